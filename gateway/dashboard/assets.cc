#include "gateway/dashboard/assets.h"

namespace counsel::gateway {

const DashboardAsset* FindDashboardAsset(absl::string_view path) {
  for (size_t i = 0; i < kDashboardAssetCount; ++i) {
    if (path == kDashboardAssets[i].path) return &kDashboardAssets[i];
  }
  return nullptr;
}

}  // namespace counsel::gateway

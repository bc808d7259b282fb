// The dashboard's files, compiled into the gateway by make_assets.py: the
// page at /dashboard/ and its content-hashed assets under /dashboard/assets/.
#ifndef COUNSEL_GATEWAY_DASHBOARD_ASSETS_H_
#define COUNSEL_GATEWAY_DASHBOARD_ASSETS_H_

#include <cstddef>

#include "absl/strings/string_view.h"

namespace counsel::gateway {

struct DashboardAsset {
  const char* path;          // "/dashboard/" or "/dashboard/assets/…"
  const char* content_type;
  size_t size;
  bool immutable;            // a hashed name: cached for a year
  const char* data;
};

extern const DashboardAsset kDashboardAssets[];
extern const size_t kDashboardAssetCount;

// The asset at `path`, or null.
const DashboardAsset* FindDashboardAsset(absl::string_view path);

}  // namespace counsel::gateway

#endif  // COUNSEL_GATEWAY_DASHBOARD_ASSETS_H_

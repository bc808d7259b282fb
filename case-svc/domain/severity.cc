#include "case-svc/domain/severity.h"

#include <algorithm>
#include <set>

namespace counsel::cases {

v1::Severity DeriveSeverity(const google::protobuf::RepeatedField<int>& leaked_data) {
  const std::set<int> kinds(leaked_data.begin(), leaked_data.end());
  auto has = [&](v1::LeakedData d) { return kinds.count(d) > 0; };
  const bool bank = has(v1::LEAKED_DATA_BANK_ACCOUNT);
  if (has(v1::LEAKED_DATA_BIOMETRIC) || (bank && has(v1::LEAKED_DATA_NATIONAL_ID)) ||
      (bank && has(v1::LEAKED_DATA_ACCOUNT_CREDENTIALS))) {
    return v1::SEVERITY_CRITICAL;
  }
  if (bank || has(v1::LEAKED_DATA_NATIONAL_ID) || has(v1::LEAKED_DATA_ACCOUNT_CREDENTIALS)) {
    return v1::SEVERITY_HIGH;
  }
  if (has(v1::LEAKED_DATA_ADDRESS) || has(v1::LEAKED_DATA_LOCATION) || kinds.size() >= 2) {
    return v1::SEVERITY_MEDIUM;
  }
  return v1::SEVERITY_LOW;
}

}  // namespace counsel::cases

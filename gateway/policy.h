// The gateway's policy table: for every method of the public protos, which
// backend serves it, the scopes it needs, whether it may be retried, and its
// default and maximum deadline. A method missing from the table is never
// routed.
#ifndef COUNSEL_GATEWAY_POLICY_H_
#define COUNSEL_GATEWAY_POLICY_H_

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/descriptor.h"

namespace counsel::gateway {

enum class Backend { kGuidance, kCases, kLocal };

class Gateway;
struct Admission;
// A method the gateway serves itself (kLocal): the request's bytes in, the
// response's bytes out. Runs on the gateway's executor and may block on
// backends until the admission's deadline.
using LocalMethod = absl::StatusOr<std::string> (*)(const Gateway& gateway,
                                                    const Admission& admission,
                                                    absl::string_view request);

struct MethodPolicy {
  // Full gRPC method name, e.g. /counsel.cases.v1.CaseService/GetCase.
  std::string method;
  const google::protobuf::MethodDescriptor* descriptor = nullptr;
  Backend backend = Backend::kLocal;
  std::vector<std::string> scopes;
  // Reads: safe to retry on UNAVAILABLE.
  bool idempotent = false;
  // Acts on cases: a client binding or x-counsel-on-behalf-of applies.
  bool client_scoped = false;
  absl::Duration default_deadline = absl::Seconds(5);
  absl::Duration max_deadline = absl::Seconds(30);
  // Set for kLocal methods.
  LocalMethod local = nullptr;
};

// The services the gateway serves, by full name.
const std::vector<std::string>& PublicServices();

// Thread-safe (immutable).
class PolicyTable {
 public:
  // Builds the table for every method of PublicServices().
  static const PolicyTable& Get();

  // nullptr when the method has no policy.
  const MethodPolicy* Find(absl::string_view method) const;
  const std::vector<MethodPolicy>& all() const { return policies_; }

  // Methods of the services that have no policy entry (must be empty).
  std::vector<std::string> Unmapped() const { return unmapped_; }

 private:
  PolicyTable();
  std::vector<MethodPolicy> policies_;
  absl::flat_hash_map<std::string, size_t> index_;
  std::vector<std::string> unmapped_;
};

}  // namespace counsel::gateway

#endif  // COUNSEL_GATEWAY_POLICY_H_

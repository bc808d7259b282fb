// Flags every server shares: --reflection, --drain_timeout, --tls_cert,
// --tls_key, --tls_ca.
#ifndef COUNSEL_COMMON_SERVER_FLAGS_H_
#define COUNSEL_COMMON_SERVER_FLAGS_H_

#include <string>

#include "common/server.h"

namespace counsel {

TlsFiles TlsFilesFromFlags();

// A ServerConfig from the shared flags, for `program` listening on `listen`.
ServerConfig ServerConfigFromFlags(const std::string& program, const std::string& listen);

}  // namespace counsel

#endif  // COUNSEL_COMMON_SERVER_FLAGS_H_

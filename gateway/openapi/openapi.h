// The OpenAPI (Swagger 2.0) document of the HTTP routes, generated from the
// protos at build time; served at /openapi.json.
#ifndef COUNSEL_GATEWAY_OPENAPI_OPENAPI_H_
#define COUNSEL_GATEWAY_OPENAPI_OPENAPI_H_

namespace counsel::gateway {
extern const char kOpenApiJson[];
}  // namespace counsel::gateway

#endif  // COUNSEL_GATEWAY_OPENAPI_OPENAPI_H_

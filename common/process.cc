#include "common/process.h"

#include <sys/stat.h>

#include "common/logging.h"
#include "google/protobuf/stubs/logging.h"
#include "grpc/support/log.h"

namespace counsel {
namespace {

void GrpcLog(gpr_log_func_args* args) {
  const log::Level level = args->severity == GPR_LOG_SEVERITY_ERROR  ? log::Level::kError
                           : args->severity == GPR_LOG_SEVERITY_INFO ? log::Level::kInfo
                           : args->severity == GPR_LOG_SEVERITY_DEBUG ? log::Level::kDebug
                                                                       : log::Level::kWarning;
  log::Write(level, "grpc", {{"file", args->file != nullptr ? args->file : ""},
                             {"line", args->line},
                             {"message", args->message != nullptr ? args->message : ""}});
}

void ProtobufLog(google::protobuf::LogLevel level, const char* file, int line,
                 const std::string& message) {
  const log::Level l = level >= google::protobuf::LOGLEVEL_ERROR     ? log::Level::kError
                       : level == google::protobuf::LOGLEVEL_WARNING ? log::Level::kWarning
                                                                      : log::Level::kInfo;
  log::Write(l, "protobuf", {{"file", file != nullptr ? file : ""},
                             {"line", line},
                             {"message", message}});
}

}  // namespace

void InitProcess() {
  umask(077);
  gpr_set_log_function(GrpcLog);
  google::protobuf::SetLogHandler(ProtobufLog);
}

}  // namespace counsel

// What every Counsel program does first, before any thread or file exists.
//
//   int main(int argc, char** argv) {
//     counsel::InitProcess();
//     counsel::BlockTerminationSignals();
//     ...
#ifndef COUNSEL_COMMON_PROCESS_H_
#define COUNSEL_COMMON_PROCESS_H_

namespace counsel {

// Sets the file-creation mask to 0077, so that databases, their WAL and
// shared-memory files, backups and key files are readable by the program's
// user only; and routes gRPC's and protobuf's own log output through the
// JSON logger, so that every line on stderr is one escaped JSON object
// (both quote caller-sent values in their messages).
void InitProcess();

}  // namespace counsel

#endif  // COUNSEL_COMMON_PROCESS_H_

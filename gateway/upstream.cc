#include "gateway/upstream.h"

#include "absl/strings/str_cat.h"
#include "gateway/metrics.h"

namespace counsel::gateway {

Upstream::Upstream(std::string label, std::shared_ptr<grpc::Channel> channel,
                   std::shared_ptr<grpc::Channel> bulk, const Clock* clock)
    : label_(std::move(label)), channel_(std::move(channel)), bulk_(std::move(bulk)),
      generic_(std::make_unique<grpc::GenericStub>(channel_)), clock_(clock) {}

grpc::Status Upstream::Admit() const {
  if (breaker_.Allow(clock_->Now())) return grpc::Status::OK;
  Metrics::Get().BackendError(label_);
  return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                      absl::StrCat(label_, " is unavailable (circuit open); retry shortly"));
}

void Upstream::Record(const grpc::Status& status) const {
  const bool unavailable = status.error_code() == grpc::StatusCode::UNAVAILABLE;
  breaker_.Record(unavailable, clock_->Now());
  if (unavailable || status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    Metrics::Get().BackendError(label_);
  }
}

void Upstream::Call(const std::string& method, grpc::CompletionQueue* queue, Exchange* ex,
                    std::function<void(grpc::Status)> done) const {
  if (grpc::Status open = Admit(); !open.ok()) {
    done(std::move(open));
    return;
  }
  ex->upstream_ = this;
  ex->done_ = std::move(done);
  ex->call_ = generic_->PrepareUnaryCall(&ex->client, method, ex->request, queue);
  ex->call_->StartCall();
  ex->call_->Finish(&ex->response, &ex->status_, ex);
}

void Exchange::Run(bool /*ok: always true for Finish*/) {
  upstream_->Record(status_);
  // The owner may free the exchange in `done`: nothing is touched after.
  std::function<void(grpc::Status)> done = std::move(done_);
  done(std::move(status_));
}

}  // namespace counsel::gateway

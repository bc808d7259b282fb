#include "gateway/http/http_front.h"

#include <atomic>
#include <deque>
#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/crypto.h"
#include "common/errors.h"
#include "common/grpc_util.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "counsel/cases/v1/cases.grpc.pb.h"
#include "gateway/dashboard/assets.h"
#include "gateway/http/download.h"
#include "gateway/http/multipart.h"
#include "gateway/http/watch_fanout.h"
#include "gateway/metrics.h"
#include "gateway/openapi/openapi.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/rpc/error_details.pb.h"
#include "grpcpp/generic/generic_stub.h"

namespace counsel::gateway {
namespace {

constexpr char kJson[] = "application/json; charset=utf-8";
// The contract's attachment limit (case-svc enforces its own as well); a
// form is refused as soon as its file passes it.
constexpr size_t kMaxAttachmentBytes = 20 << 20;
// Room for a form's other parts and boundaries beside the file.
constexpr size_t kMaxFormOverhead = 1 << 20;
constexpr char kAddEvidence[] = "/counsel.cases.v1.CaseService/AddEvidence";


google::rpc::Status RpcStatusOf(const grpc::Status& s) {
  google::rpc::Status out;
  if (!s.error_details().empty() && out.ParseFromString(s.error_details())) return out;
  out.Clear();
  out.set_code(s.error_code());
  out.set_message(s.error_message());
  return out;
}

std::string ErrorJson(int http_status, absl::string_view message) {
  // The gRPC code HTTP clients expect beside each status the server itself
  // answers (AIP-193's mapping, read backwards).
  const int code = http_status == 404   ? 5    // NOT_FOUND
                   : http_status == 405 ? 12   // UNIMPLEMENTED
                   : http_status == 413 ? 8    // RESOURCE_EXHAUSTED
                   : http_status == 429 ? 8
                   : http_status == 503 ? 14   // UNAVAILABLE
                   : http_status >= 500 ? 13   // INTERNAL
                                        : 3;   // INVALID_ARGUMENT (400, 415, 431)
  google::rpc::Status status;
  status.set_code(code);
  status.set_message(ValidUtf8(message));
  return RenderStatusJson(status);
}

// The front's state shared by every request it answers.
struct Front {
  const Gateway* gateway;
  const Transcoder* transcoder;
  std::unique_ptr<WatchFanout> fanout;
  std::vector<std::string> cors_origins;
  bool secure_cookies = false;
  // Calls to the backends not yet finished: Stop waits for them, since their
  // completions reach the server's connections.
  std::atomic<int> active{0};
  absl::Mutex mu;
  absl::CondVar idle;

  void Enter() { active.fetch_add(1); }
  void Leave() {
    if (active.fetch_sub(1) == 1) {
      absl::MutexLock lock(&mu);
      idle.SignalAll();
    }
  }
};

// What every answer to one request shares: CORS headers, the request id,
// and the access-log line written when it is answered.
class Answer {
 public:
  Answer(Front* front, std::shared_ptr<HttpResponder> res, HttpHeaders base)
      : front_(front), res_(std::move(res)), base_(std::move(base)),
        start_(front->gateway->clock()->Now()) {}

  void set_method(std::string m) { method_ = std::move(m); }
  void set_context(const CallContext& cc) { context_ = cc; has_context_ = true; }
  const std::string& request_id() const { return request_id_; }
  void set_request_id(std::string id) {
    request_id_ = id;
    base_.emplace_back("x-request-id", std::move(id));
  }
  HttpResponder& responder() { return *res_; }
  std::shared_ptr<HttpResponder> responder_ptr() { return res_; }

  void Json(int status, std::string body) { Send(status, kJson, std::move(body), {}); }
  void Send(int status, absl::string_view content_type, std::string body, HttpHeaders extra) {
    HttpHeaders headers = base_;
    headers.emplace_back("content-type", std::string(content_type));
    for (auto& h : extra) headers.push_back(std::move(h));
    Log(status);
    res_->Reply(status, std::move(headers), std::move(body));
  }
  void Status(const google::rpc::Status& status) {
    HttpHeaders extra;
    // RESOURCE_EXHAUSTED carries RetryInfo; HTTP clients read Retry-After.
    for (const auto& any : status.details()) {
      google::rpc::RetryInfo retry;
      if (any.UnpackTo(&retry)) {
        const int64_t seconds =
            retry.retry_delay().seconds() + (retry.retry_delay().nanos() > 0 ? 1 : 0);
        extra.emplace_back("retry-after", absl::StrCat(std::max<int64_t>(1, seconds)));
      }
    }
    Send(HttpStatusForCode(status.code()), kJson, RenderStatusJson(status), std::move(extra));
  }
  void Error(const absl::Status& status) { Status(ToRpcStatus(status)); }

  HttpHeaders StreamHeaders(absl::string_view content_type) const {
    HttpHeaders headers = base_;
    headers.emplace_back("content-type", std::string(content_type));
    headers.emplace_back("cache-control", "no-store");
    return headers;
  }
  void Log(int status) {
    Gateway::LogAccess("http", method_, request_id_, has_context_ ? &context_ : nullptr, status,
                       front_->gateway->clock()->Now() - start_);
  }

 private:
  Front* front_;
  std::shared_ptr<HttpResponder> res_;
  HttpHeaders base_;
  absl::Time start_;
  std::string method_ = "-";
  std::string request_id_;
  CallContext context_;
  bool has_context_ = false;
};

// WatchChanges over HTTP: server-sent events when the client asks for
// text/event-stream, newline-delimited JSON otherwise. The watcher holds no
// call to case-svc of its own: it listens to its group's shared stream
// (watch_fanout.h). A watcher resuming from a cursor first catches up with
// ListChanges pages under its own key, keeping the shared frames that
// arrive meanwhile, then sends those after the last change it sent. Each
// change carries `id:` = the cursor that resumes after it. A watcher that
// falls kMaxQueued frames behind is ended (it resumes from its last id).
class HttpWatcher final : public FeedListener, public std::enable_shared_from_this<HttpWatcher> {
  struct Page {
    Exchange ex;
    cases::v1::ListChangesRequest request;
    cases::v1::ListChangesResponse response;
  };

 public:
  static constexpr int kMaxQueued = 256;
  static constexpr int kPageSize = 100;

  HttpWatcher(Front* front, std::shared_ptr<Answer> answer, Admission admission, bool sse)
      : front_(front), answer_(std::move(answer)), admission_(std::move(admission)), sse_(sse) {}

  void Start(const std::string& request_bytes) {
    front_->Enter();
    cases::v1::WatchChangesRequest request;
    request.ParseFromString(request_bytes);
    HttpResponder& res = answer_->responder();
    res.StartStream(200, answer_->StreamHeaders(sse_ ? "text/event-stream"
                                                    : "application/x-ndjson"));
    if (sse_) res.Write("retry: 2000\n\n", nullptr);
    auto self = shared_from_this();
    // Stop runs when the connection closes, whichever side ends it.
    res.OnClientGone([self] { self->Stop(); });
    bool catch_up = false;
    if (!request.cursor().empty()) {
      auto seq = front_->fanout->CursorSeq(admission_.context, request.cursor());
      absl::MutexLock lock(&mu_);
      if (!seq.ok()) return ProblemLocked(seq.status());
      stitch_ = FeedStitch(*seq);
      catch_up = true;
    }
    // Not under mu_: Join may end this listener at once.
    view_ = request.view();
    auto sub = front_->fanout->Join(admission_.context, view_, this);
    {
      absl::MutexLock lock(&mu_);
      if (!stopped_) sub_ = std::move(sub);
    }
    sub.reset();  // stopped meanwhile: leave at once
    if (catch_up) CatchUp(request.cursor());
  }

  void OnFrame(const std::shared_ptr<const FeedFrame>& frame) override {
    absl::MutexLock lock(&mu_);
    if (ended_) return;
    if (front_->gateway->clock()->Now() > admission_.deadline) {
      // The watch's deadline: the client reconnects for another.
      ended_ = true;
      answer_->responder().EndStream();
      return;
    }
    FeedStitch::Frames send;
    const bool live = !stitch_.catching_up();
    if (!stitch_.Shared(frame, &send)) {
      return ProblemLocked(absl::ResourceExhaustedError(
          "the feed moved faster than this watcher caught up; reconnect with Last-Event-ID"));
    }
    SendLocked(send, live);
    if (!seen_frame_) {
      seen_frame_ = true;
      // The shared stream is running: a page read from now on meets it.
      // Not from here (the group's lock is held): from the connection.
      if (!next_cursor_.empty() && !page_) {
        answer_->responder().Post([self = shared_from_this()] { self->ResumeCatchUp(); });
      }
    }
  }

  void OnEnd(const grpc::Status& status) override {
    absl::MutexLock lock(&mu_);
    ProblemLocked(FromGrpcStatus(status));
  }

 private:
  // `live`: frames of the shared stream after catching up, which a slow
  // reader may not pile up; catch-up frames are paced by the pages instead.
  void SendLocked(const FeedStitch::Frames& frames, bool live) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (const auto& frame : frames) {
      if (ended_) return;
      if (live && queued_ >= kMaxQueued) {
        return ProblemLocked(absl::ResourceExhaustedError(
            "this watcher reads too slowly; reconnect with Last-Event-ID"));
      }
      ++queued_;
      answer_->responder().Write(sse_ ? frame->sse : frame->ndjson,
                                 [self = shared_from_this()](bool) { self->Written(); });
    }
  }

  // A frame left: the next catch-up page is read once the last has drained.
  void Written() {
    {
      absl::MutexLock lock(&mu_);
      --queued_;
      if (!draining_ || queued_ > kPageSize / 4) return;
      draining_ = false;
    }
    ResumeCatchUp();
  }

  void ResumeCatchUp() {
    std::string next;
    {
      absl::MutexLock lock(&mu_);
      if (ended_ || page_ || next_cursor_.empty()) return;
      next = std::exchange(next_cursor_, "");
    }
    CatchUp(next);
  }

  // `problem`, not `error`: EventSource fires its own `error` event on every
  // disconnect.
  void ProblemLocked(const absl::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (ended_) return;
    ended_ = true;
    log_status_ = HttpStatusForCode(static_cast<int>(status.code()));
    const std::string json = RenderStatusJson(ToRpcStatus(status));
    HttpResponder& res = answer_->responder();
    res.Write(sse_ ? absl::StrCat("event: problem\ndata: ", json, "\n\n")
                   : absl::StrCat("{\"error\":", json, "}\n"),
              nullptr);
    res.EndStream();  // the connection closes; Stop follows
  }

  void CatchUp(const std::string& cursor) {
    auto page = std::make_shared<Page>();
    page->request.set_cursor(cursor);
    page->request.set_page_size(kPageSize);
    page->request.set_view(view_);
    Admission list = admission_;
    list.deadline = std::min(admission_.deadline,
                             front_->gateway->clock()->Now() + absl::Seconds(30));
    {
      absl::MutexLock lock(&mu_);
      if (ended_) return;
      page_ = page;
    }
    front_->Enter();
    // A read: retried on UNAVAILABLE as any forwarded ListChanges is.
    front_->gateway->Fetch("/counsel.cases.v1.CaseService/ListChanges", list, page->request,
                           &page->response, &page->ex,
                           [self = shared_from_this(), page](grpc::Status status) {
                             self->OnPage(status, page->response);
                             self->front_->Leave();
                           });
  }

  void OnPage(const grpc::Status& status, const cases::v1::ListChangesResponse& response) {
    std::string next;
    {
      absl::MutexLock lock(&mu_);
      page_ = nullptr;
      if (ended_) return;
      if (!status.ok()) return ProblemLocked(FromGrpcStatus(status));
      FeedStitch::Frames page, send;
      for (const auto& change : response.changes()) {
        auto seq = front_->fanout->CursorSeq(admission_.context, change.cursor());
        if (!seq.ok()) continue;
        cases::v1::WatchChangesResponse m;
        *m.mutable_change() = change;
        page.push_back(RenderFeedFrame(m, *seq));
      }
      // Caught up only by a short page read after the shared stream was
      // seen running: an earlier read may end before the stream's start.
      const bool short_page = response.changes_size() < kPageSize;
      const bool last = short_page && seen_frame_;
      stitch_.Page(page, last, &send);
      SendLocked(send, false);
      if (!last) {
        if (short_page) {
          next_cursor_ = response.next_cursor();  // read again at the first frame
        } else if (queued_ > kPageSize / 4) {
          next_cursor_ = response.next_cursor();  // read again once written
          draining_ = true;
        } else {
          next = response.next_cursor();
        }
      }
    }
    if (!next.empty()) CatchUp(next);
  }

  void Stop() {
    std::unique_ptr<WatchFanout::Subscription> sub;
    std::shared_ptr<Page> page;
    {
      absl::MutexLock lock(&mu_);
      if (stopped_) return;
      stopped_ = ended_ = true;
      sub = std::move(sub_);
      page = std::move(page_);
      stitch_ = FeedStitch(-1);
    }
    // Outside the lock: a cancelled call may complete on this thread.
    if (page != nullptr) page->ex.TryCancel();
    sub.reset();  // no frame reaches this watcher after it
    answer_->Log(log_status_);
    admission_.stream_slot.reset();
    admission_.in_flight.reset();
    front_->Leave();
  }

  Front* front_;
  std::shared_ptr<Answer> answer_;
  Admission admission_;
  const bool sse_;
  cases::v1::ChangeView view_ = cases::v1::CHANGE_VIEW_UNSPECIFIED;  // set once, at Start
  absl::Mutex mu_;
  std::unique_ptr<WatchFanout::Subscription> sub_ ABSL_GUARDED_BY(mu_);
  FeedStitch stitch_ ABSL_GUARDED_BY(mu_){-1};  // from now until a cursor says otherwise
  int queued_ ABSL_GUARDED_BY(mu_) = 0;
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  std::shared_ptr<Page> page_ ABSL_GUARDED_BY(mu_);  // the catch-up call in flight
  std::string next_cursor_ ABSL_GUARDED_BY(mu_);     // the next page, when it waits
  bool draining_ ABSL_GUARDED_BY(mu_) = false;       // waits for the frames to go
  bool seen_frame_ ABSL_GUARDED_BY(mu_) = false;     // the shared stream runs
  int log_status_ = 200;
};

// An upload's answer: the stored entry, or case-svc's refusal.
void AnswerEvidence(Answer& answer, const grpc::Status& status,
                    const cases::v1::Evidence& evidence) {
  if (!status.ok()) return answer.Status(RpcStatusOf(status));
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(evidence, &json);
  answer.Json(200, std::move(json));
}

// An AddEvidence call for a relay to start on the gateway's loop.
std::unique_ptr<grpc::ClientAsyncWriter<cases::v1::AddEvidenceRequest>> PrepareAddEvidence(
    const Gateway& gateway, grpc::ClientContext* ctx, cases::v1::Evidence* evidence) {
  return gateway.cases().Stub<cases::v1::CaseService>()->PrepareAsyncAddEvidence(
      ctx, evidence, gateway.loop().PickQueue());
}

// AddEvidence from one JSON body (the attachment base64 in `chunk`).
class UploadRelay final : public ClientWriteStream<cases::v1::AddEvidenceRequest> {
 public:
  UploadRelay(Front* front, std::shared_ptr<Answer> answer, Admission admission)
      : front_(front), answer_(std::move(answer)), admission_(std::move(admission)) {}

  void Start(const std::string& request_bytes) {
    front_->Enter();
    request_.ParseFromString(request_bytes);
    front_->gateway->Prepare(admission_, &ctx_);
    StartWriteLast(&request_);
    StartCall(front_->gateway->loop(), PrepareAddEvidence(*front_->gateway, &ctx_, &evidence_));
  }

  void OnDone(const grpc::Status& status) override {
    front_->gateway->cases().Record(status);
    AnswerEvidence(*answer_, status, evidence_);
    Front* front = front_;
    delete this;
    front->Leave();
  }

 private:
  Front* front_;
  std::shared_ptr<Answer> answer_;
  Admission admission_;
  grpc::ClientContext ctx_;
  cases::v1::AddEvidenceRequest request_;
  cases::v1::Evidence evidence_;
};

// ReadEvidenceAttachment relayed as the raw bytes: the first message gives
// the headers (200, or 206 for a range); each chunk is written before the
// next is read. A whole download is also hashed as it passes and its last
// chunk held back until the digest matches the stored one: a mismatch ends
// the connection short of Content-Length, which every client sees as a
// failed download, never as a good one.
class DownloadRelay final : public ClientReadStream<cases::v1::ReadEvidenceAttachmentResponse> {
 public:
  DownloadRelay(Front* front, std::shared_ptr<Answer> answer, Admission admission,
                std::optional<ByteRange> range)
      : front_(front), answer_(std::move(answer)), admission_(std::move(admission)),
        range_(range), ctx_(std::make_shared<grpc::ClientContext>()) {}

  void Start(const std::string& request_bytes) {
    front_->Enter();
    request_.ParseFromString(request_bytes);
    if (range_) {
      if (range_->suffix > 0) {
        request_.set_read_offset(-range_->suffix);
      } else {
        request_.set_read_offset(range_->first);
        if (range_->last >= 0) request_.set_read_limit(range_->last - range_->first + 1);
      }
    }
    front_->gateway->Prepare(admission_, ctx_.get());
    StartRead(&message_);
    StartCall(front_->gateway->loop(), front_->gateway->cases()
                  .Stub<cases::v1::CaseService>(/*bulk=*/true)
                  ->PrepareAsyncReadEvidenceAttachment(ctx_.get(), request_,
                                                       front_->gateway->loop().PickQueue()));
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;
    if (!started_) {
      started_ = true;
      attachment_ = message_.attachment();
      StartResponse(message_.offset());
    }
    if (whole_) hasher_.Update(message_.chunk());
    if (!held_) {
      held_ = std::move(*message_.mutable_chunk());
      StartRead(&message_);
      return;
    }
    std::string out = std::move(*held_);
    held_ = std::move(*message_.mutable_chunk());
    AddHold();
    answer_->responder().Write(std::move(out), [this](bool written) {
      if (written) {
        StartRead(&message_);
      } else {
        ctx_->TryCancel();
      }
      RemoveHold();
    });
  }

  void OnDone(const grpc::Status& status) override {
    front_->gateway->cases().Record(status);
    if (!started_) {
      google::rpc::Status rpc = RpcStatusOf(status);
      if (status.ok()) {  // cannot happen: the first message always comes
        rpc.set_code(grpc::StatusCode::INTERNAL);
        rpc.set_message("the attachment stream was empty");
      }
      if (rpc.code() == grpc::StatusCode::OUT_OF_RANGE) {
        answer_->Send(416, kJson, RenderStatusJson(rpc), {});
      } else {
        answer_->Status(rpc);
      }
    } else {
      HttpResponder& res = answer_->responder();
      bool good = status.ok();
      if (good && whole_) {
        good = crypto::HexEncode(hasher_.Final()) == attachment_.sha256();
        if (!good) {
          log::Error("attachment digest mismatch", {{"method", "ReadEvidenceAttachment"},
                                                    {"request_id", answer_->request_id()}});
        }
      }
      if (good && held_) res.Write(std::move(*held_), nullptr);
      res.EndStream();  // short of Content-Length unless every byte went
      answer_->Log(good ? (whole_ ? 200 : 206) : HttpStatusForCode(status.error_code()));
    }
    Front* front = front_;
    delete this;
    front->Leave();
  }

 private:
  void StartResponse(int64_t offset) {
    const int64_t size = attachment_.size_bytes();
    int64_t first = 0, last = size - 1;
    if (range_) {
      first = offset;
      if (range_->suffix == 0 && range_->last >= 0) last = std::min(range_->last, size - 1);
    }
    whole_ = first == 0 && last == size - 1;
    HttpHeaders headers = answer_->StreamHeaders(
        attachment_.content_type().empty() ? "application/octet-stream"
                                           : attachment_.content_type());
    headers.emplace_back("content-length", absl::StrCat(last - first + 1));
    headers.emplace_back("content-disposition", AttachmentDisposition(attachment_.filename()));
    headers.emplace_back("repr-digest", ReprDigest(attachment_.sha256()));
    headers.emplace_back("accept-ranges", "bytes");
    headers.emplace_back("etag", absl::StrCat("\"", attachment_.sha256(), "\""));
    // The bytes are the client's, of any type: never sniffed, never run.
    headers.emplace_back("x-content-type-options", "nosniff");
    headers.emplace_back("content-security-policy", "sandbox");
    if (!whole_) {
      headers.emplace_back("content-range", absl::StrCat("bytes ", first, "-", last, "/", size));
    }
    HttpResponder& res = answer_->responder();
    res.StartStream(whole_ ? 200 : 206, std::move(headers));
    res.OnClientGone([ctx = ctx_] { ctx->TryCancel(); });
  }

  Front* front_;
  std::shared_ptr<Answer> answer_;
  Admission admission_;
  const std::optional<ByteRange> range_;
  std::shared_ptr<grpc::ClientContext> ctx_;
  cases::v1::ReadEvidenceAttachmentRequest request_;
  cases::v1::ReadEvidenceAttachmentResponse message_;
  cases::v1::Attachment attachment_;
  bool started_ = false;
  bool whole_ = false;
  std::optional<std::string> held_;
  crypto::Sha256Hasher hasher_;
};

// AddEvidence from a multipart/form-data body, streamed: each piece of the
// body is read only once what the previous one carried has been written to
// case-svc, so the gateway holds one piece whatever the file's size. The
// form has a JSON part `evidence`, at most one file part, and optionally
// text parts `requestId` and `attachmentSha256`, in any order: the first
// message goes when the file part begins (so its file name and type are
// known), and an `evidence` part that comes after the file follows it.
class FormUpload final : public ClientWriteStream<cases::v1::AddEvidenceRequest> {
 public:
  FormUpload(Front* front, std::shared_ptr<Answer> answer, Admission admission,
             RouteMatch match, QueryParams query, std::string boundary)
      : front_(front), answer_(std::move(answer)), admission_(std::move(admission)),
        match_(std::move(match)), query_(std::move(query)), reader_(std::move(boundary)) {}

  void Start() {
    front_->Enter();
    auto base = front_->transcoder->BuildRequest(match_, query_, "");
    if (base.ok()) base_.ParseFromString(*base);
    front_->gateway->Prepare(admission_, &ctx_);
    AddHold();  // released when the body is read to its end, or abandoned
    StartCall(front_->gateway->loop(), PrepareAddEvidence(*front_->gateway, &ctx_, &evidence_));
    if (!base.ok()) return Fail(base.status());
    ReadPiece();
  }

  void OnWriteDone(bool ok) override {
    outgoing_.pop_front();
    writing_ = false;
    // Not ok: case-svc ended the call (its status comes in OnDone).
    if (!ok) return Release();
    Flush();
  }

  void OnDone(const grpc::Status& status) override {
    front_->gateway->cases().Record(status);
    if (!failure_.ok()) {
      if (failure_.code() == absl::StatusCode::kResourceExhausted) {
        answer_->Json(413, ErrorJson(413, failure_.message()));
      } else {
        answer_->Error(failure_);
      }
    } else {
      AnswerEvidence(*answer_, status, evidence_);
    }
    Front* front = front_;
    delete this;
    front->Leave();
  }

 private:
  enum class Part { kNone, kEvidence, kFile, kRequestId, kSha };
  static constexpr size_t kMaxJson = 64 << 10;
  static constexpr size_t kMaxText = 256;

  void ReadPiece() {
    answer_->responder().ReadBody([this](absl::Status st, std::string piece, bool last) {
      if (!st.ok()) return Fail(st);
      auto events = reader_.Feed(piece);
      if (!events.ok()) return Fail(events.status());
      for (auto& e : *events) {
        if (absl::Status taken = Take(std::move(e)); !taken.ok()) return Fail(taken);
      }
      if (!chunk_.empty()) {
        cases::v1::AddEvidenceRequest m;
        m.set_chunk(std::move(chunk_));
        chunk_.clear();
        outgoing_.push_back(std::move(m));
      }
      if (last) {
        if (absl::Status st = reader_.Finish(); !st.ok()) return Fail(st);
        if (absl::Status st = EndForm(); !st.ok()) return Fail(st);
        body_read_ = true;
      }
      Flush();
    });
  }

  absl::Status Take(MultipartEvent e) {
    switch (e.kind) {
      case MultipartEvent::Kind::kPartStart: {
        const MultipartPart& p = e.part;
        text_.clear();
        if (p.name == "evidence" && !p.has_filename) {
          if (have_evidence_) return InvalidArgumentField("evidence", "the form has two");
          part_ = Part::kEvidence;
        } else if (p.name == "requestId" && !p.has_filename) {
          part_ = Part::kRequestId;
        } else if (p.name == "attachmentSha256" && !p.has_filename) {
          part_ = Part::kSha;
        } else if (p.has_filename || p.name == "file") {
          if (file_seen_) return InvalidArgumentField(p.name, "the form may carry one file only");
          file_seen_ = true;
          file_name_ = p.filename;
          file_type_ = p.content_type;
          part_ = Part::kFile;
          Open();
        } else {
          return InvalidArgumentField(
              p.name, "is not a part of this form: it takes `evidence` (JSON), one file, and "
                      "optionally `requestId` and `attachmentSha256`");
        }
        return absl::OkStatus();
      }
      case MultipartEvent::Kind::kData:
        if (part_ == Part::kFile) {
          file_bytes_ += e.data.size();
          if (file_bytes_ > kMaxAttachmentBytes) {
            return absl::ResourceExhaustedError("the attachment is larger than 20 MiB");
          }
          chunk_ += e.data;
        } else {
          text_ += e.data;
          if (text_.size() > (part_ == Part::kEvidence ? kMaxJson : kMaxText)) {
            return InvalidArgumentField(part_ == Part::kEvidence ? "evidence" : "multipart",
                                        "a text part is too long");
          }
        }
        return absl::OkStatus();
      case MultipartEvent::Kind::kPartEnd:
        return EndPart();
    }
    return absl::OkStatus();
  }

  absl::Status EndPart() {
    const Part part = std::exchange(part_, Part::kNone);
    if (part == Part::kEvidence) {
      google::protobuf::Value json;
      if (!google::protobuf::util::JsonStringToMessage(text_, &json).ok() ||
          json.kind_case() != google::protobuf::Value::kStructValue) {
        return InvalidArgumentField("evidence", "the part is not a JSON object");
      }
      // Parsed as the JSON route's body would be, so errors name
      // `evidence.kind` and the like.
      ASSIGN_OR_RETURN(std::string bytes,
                       front_->transcoder->BuildRequest(
                           match_, query_, absl::StrCat("{\"evidence\":", text_, "}")));
      cases::v1::AddEvidenceRequest parsed;
      parsed.ParseFromString(bytes);
      *late_.mutable_evidence() = parsed.evidence();
      have_evidence_ = true;
    } else if (part == Part::kRequestId) {
      late_.set_request_id(text_);
    } else if (part == Part::kSha) {
      late_.set_attachment_sha256(text_);
    }
    return absl::OkStatus();
  }

  // The first message: the parent, and whatever the form has given so far.
  void Open() {
    if (opened_) return;
    opened_ = true;
    cases::v1::AddEvidenceRequest first = base_;
    TakeLate(first);
    outgoing_.push_back(std::move(first));
  }

  // Moves what the form gave into `m`, the evidence's attachment described
  // from the file part where the JSON did not.
  void TakeLate(cases::v1::AddEvidenceRequest& m) {
    if (late_.has_evidence()) {
      cases::v1::Evidence& e = *m.mutable_evidence();
      e = late_.evidence();
      if (file_seen_) {
        cases::v1::Attachment& a = *e.mutable_attachment();
        if (a.filename().empty()) a.set_filename(file_name_);
        if (a.content_type().empty()) {
          a.set_content_type(file_type_.empty() ? "application/octet-stream" : file_type_);
        }
      }
    }
    if (!late_.request_id().empty()) m.set_request_id(late_.request_id());
    if (!late_.attachment_sha256().empty()) m.set_attachment_sha256(late_.attachment_sha256());
    late_.Clear();
  }

  absl::Status EndForm() {
    if (!have_evidence_) {
      return InvalidArgumentField("evidence",
                                  "the form has no `evidence` part: JSON describing the "
                                  "evidence, e.g. {\"kind\":\"KIND_SCREENSHOT\"}");
    }
    if (!opened_) {
      Open();
    } else if (late_.ByteSizeLong() > 0) {
      cases::v1::AddEvidenceRequest m;
      TakeLate(m);
      outgoing_.push_back(std::move(m));
    }
    return absl::OkStatus();
  }

  // One write to case-svc at a time; the next piece of the body is read
  // when nothing is left to write.
  void Flush() {
    if (writing_done_ || writing_) return;
    if (!outgoing_.empty()) {
      writing_ = true;
      StartWrite(&outgoing_.front());
      return;
    }
    if (!body_read_) return ReadPiece();
    writing_done_ = true;
    StartWritesDone();
    Release();
  }

  // Refused (bad form, too large, the client left): nothing is stored.
  void Fail(absl::Status st) {
    if (failure_.ok()) failure_ = std::move(st);
    ctx_.TryCancel();
    Release();
  }

  void Release() {
    if (released_) return;
    released_ = true;
    RemoveHold();
  }

  Front* front_;
  std::shared_ptr<Answer> answer_;
  Admission admission_;
  const RouteMatch match_;
  const QueryParams query_;
  MultipartReader reader_;
  grpc::ClientContext ctx_;
  cases::v1::AddEvidenceRequest base_;  // parent and query parameters
  cases::v1::AddEvidenceRequest late_;  // form fields not yet sent
  cases::v1::Evidence evidence_;
  std::deque<cases::v1::AddEvidenceRequest> outgoing_;
  std::string chunk_, text_, file_name_, file_type_;
  Part part_ = Part::kNone;
  size_t file_bytes_ = 0;
  bool have_evidence_ = false, file_seen_ = false, opened_ = false;
  bool body_read_ = false, writing_ = false, writing_done_ = false, released_ = false;
  absl::Status failure_;
};

// /readyz: both backends asked at once; answered when both have replied.
void ServeReady(Front* front, std::shared_ptr<Answer> answer) {
  struct Probe {
    std::shared_ptr<Answer> answer;
    absl::Mutex mu;
    int pending = 2;
    bool guidance = false, cases = false;
  };
  auto probe = std::make_shared<Probe>();
  probe->answer = std::move(answer);
  auto ask = [front, probe](const Upstream& up, bool Probe::*result) {
    struct Call {
      grpc::ClientContext ctx;
      grpc::ByteBuffer request, response;
    };
    auto call = std::make_shared<Call>();
    call->ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(500));
    grpc::Slice empty("");
    call->request = grpc::ByteBuffer(&empty, 1);
    front->Enter();
    GrpcLoop& loop = front->gateway->loop();
    StartUnary(loop,
               [&] {
                 return up.generic()->PrepareUnaryCall(&call->ctx, "/grpc.health.v1.Health/Check",
                                                       call->request, loop.PickQueue());
               },
               &call->response, [front, probe, call, result](const grpc::Status& s) {
                 const bool serving =
                     s.ok() && Flatten(call->response) == std::string("\x08\x01", 2);
                 bool last;
                 {
                   absl::MutexLock lock(&probe->mu);
                   (*probe).*result = serving;
                   last = --probe->pending == 0;
                 }
                 if (last) {
                   probe->answer->Json(
                       probe->guidance && probe->cases ? 200 : 503,
                       absl::StrCat("{\"guidance\":", probe->guidance ? "true" : "false",
                                    ",\"cases\":", probe->cases ? "true" : "false", "}"));
                 }
                 front->Leave();
               });
  };
  ask(front->gateway->guidance(), &Probe::guidance);
  ask(front->gateway->cases(), &Probe::cases);
}

// Content types whose bodies are read as JSON: JSON itself, none, and what
// curl sends by default with -d (form-encoded, though the body is JSON).
bool JsonContentType(absl::string_view content_type) {
  const std::string type = absl::AsciiStrToLower(absl::StripAsciiWhitespace(
      content_type.substr(0, content_type.find(';'))));
  return type.empty() || type == "application/json" ||
         type == "application/x-www-form-urlencoded";
}

bool IsForm(const HttpRequest& req) {
  const std::string type = req.Header("content-type");
  return absl::AsciiStrToLower(absl::StripAsciiWhitespace(
             absl::string_view(type).substr(0, type.find(';')))) == "multipart/form-data";
}

// The path routes are matched on. Generated clients percent-encode a
// resource name's slashes (/v1/cases%2Fabc): the same route as /v1/cases/abc.
std::string RoutePath(absl::string_view target) {
  return absl::StrReplaceAll(target.substr(0, target.find('?')), {{"%2F", "/"}, {"%2f", "/"}});
}

// A multipart form sent to the evidence upload: its body is streamed.
bool EvidenceForm(const Front& front, const HttpRequest& req) {
  if (req.method != "POST" || !IsForm(req)) return false;
  auto match = front.transcoder->Find(req.method, RoutePath(req.target));
  return match && match->route->policy->method == kAddEvidence;
}

HttpHeaders CorsHeaders(const Front& front, const HttpRequest& req) {
  const std::string origin = req.Header("origin");
  if (origin.empty() ||
      std::find(front.cors_origins.begin(), front.cors_origins.end(), origin) ==
          front.cors_origins.end()) {
    return {};
  }
  return {{"access-control-allow-origin", origin},
          {"vary", "origin"},
          {"access-control-expose-headers", "x-request-id, retry-after"}};
}

// The value of the counsel_session cookie, "" when absent.
std::string SessionCookie(const HttpRequest& req) {
  for (const auto& [name, value] : req.headers) {
    if (name != "cookie") continue;
    for (absl::string_view part : absl::StrSplit(value, ';')) {
      part = absl::StripAsciiWhitespace(part);
      if (absl::ConsumePrefix(&part, "counsel_session=")) return std::string(part);
    }
  }
  return "";
}

std::string SessionJson(const KeyRecord& key, absl::Time expire, const std::string& csrf) {
  google::protobuf::Struct out;
  auto& f = *out.mutable_fields();
  f["tenant"].set_string_value(key.tenant);
  auto* scopes = f["scopes"].mutable_list_value();
  for (const std::string& s : key.scopes) scopes->add_values()->set_string_value(s);
  if (!key.client_id.empty()) f["clientId"].set_string_value(key.client_id);
  f["expireTime"].set_string_value(absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", expire,
                                                    absl::UTCTimeZone()));
  f["csrfToken"].set_string_value(csrf);
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(out, &json);
  return json;
}

// The dashboard: a page and its hashed assets, under a policy that lets
// only this origin's scripts and styles run (no inline code, no eval), in no
// frame, sending no referrer.
void ServeDashboard(const std::string& path, const std::shared_ptr<Answer>& answer) {
  answer->set_method("dashboard");
  if (path == "/dashboard") {
    return answer->Send(301, "text/plain", "", {{"location", "/dashboard/"}});
  }
  const DashboardAsset* asset = FindDashboardAsset(path);
  HttpHeaders headers = {
      {"content-security-policy",
       "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"},
      {"x-content-type-options", "nosniff"},
      {"referrer-policy", "no-referrer"},
      {"x-frame-options", "DENY"},
      {"cross-origin-opener-policy", "same-origin"},
      {"cross-origin-resource-policy", "same-origin"}};
  if (asset == nullptr) {
    return answer->Send(404, "text/plain; charset=utf-8", "not found\n", std::move(headers));
  }
  headers.emplace_back("cache-control", asset->immutable ? "public, max-age=31536000, immutable"
                                                         : "no-cache");
  answer->Send(200, asset->content_type, std::string(asset->data, asset->size),
               std::move(headers));
}

// POST /v1/sessions {"apiKey": "ck_…"}: 201, the HttpOnly cookie and the
// CSRF token; GET /v1/sessions/current: who the cookie is; DELETE ends it.
void ServeSessions(Front* front, const HttpRequest& req, const std::string& path,
                   const std::shared_ptr<Answer>& answer) {
  const Gateway& gateway = *front->gateway;
  answer->set_method(absl::StrCat("session:", req.method));
  const std::string cookie_attrs = absl::StrCat("; HttpOnly; SameSite=Strict; Path=/",
                                                front->secure_cookies ? "; Secure" : "");
  if (path == "/v1/sessions" && req.method == "POST") {
    google::protobuf::Struct body;
    google::protobuf::util::JsonParseOptions options;
    if (!google::protobuf::util::JsonStringToMessage(req.body, &body, options).ok() ||
        !body.fields().contains("apiKey") ||
        body.fields().at("apiKey").kind_case() != google::protobuf::Value::kStringValue) {
      return answer->Error(InvalidArgumentField("apiKey", "is required: {\"apiKey\": \"ck_…\"}"));
    }
    auto started = gateway.StartSession(body.fields().at("apiKey").string_value(), req.peer,
                                        req.Header("x-forwarded-for"));
    if (!started.ok()) return answer->Error(started.status());
    const absl::Duration max_age = started->session.record.expire_time - gateway.clock()->Now();
    answer->Send(201, kJson,
                 SessionJson(*started->key, started->session.record.expire_time,
                             started->csrf_token),
                 {{"set-cookie", absl::StrCat("counsel_session=", started->session.token,
                                              cookie_attrs, "; Max-Age=",
                                              absl::ToInt64Seconds(max_age))},
                  {"cache-control", "no-store"}});
    return;
  }
  if (path == "/v1/sessions/current" && (req.method == "GET" || req.method == "DELETE")) {
    const std::string session = SessionCookie(req);
    auto key = gateway.SessionKey(session);
    if (!key.ok()) return answer->Error(key.status());
    if (req.method == "GET") {
      answer->Send(200, kJson,
                   SessionJson(**key, gateway.clock()->Now() + Authenticator::kSessionIdle,
                               gateway.CsrfTokenFor(session)),
                   {{"cache-control", "no-store"}});
      return;
    }
    if (!crypto::ConstantTimeEquals(req.Header("x-csrf-token"), gateway.CsrfTokenFor(session))) {
      return answer->Error(absl::PermissionDeniedError("ending a session needs its x-csrf-token"));
    }
    if (auto st = gateway.EndSession(session); !st.ok()) return answer->Error(st);
    answer->Send(204, "text/plain", "",
                 {{"set-cookie", absl::StrCat("counsel_session=", cookie_attrs, "; Max-Age=0")}});
    return;
  }
  answer->Json(405, ErrorJson(405, absl::StrCat(req.method, " is not allowed on this path")));
}

void Handle(Front* front, HttpRequest req, std::shared_ptr<HttpResponder> res) {
  const Gateway& gateway = *front->gateway;
  auto answer = std::make_shared<Answer>(front, std::move(res), CorsHeaders(*front, req));
  answer->set_request_id(Gateway::RequestIdFrom(req.Header(kRequestIdHeader)));
  const size_t q = req.target.find('?');
  const std::string raw_path = RoutePath(req.target);
  if (req.method == "OPTIONS") {
    if (CorsHeaders(*front, req).empty()) {
      return answer->Json(403, ErrorJson(403, "origin not allowed"));
    }
    answer->Send(204, "text/plain", "",
                 {{"access-control-allow-methods", "GET, POST, PATCH, PUT, DELETE"},
                  {"access-control-allow-headers",
                   "authorization, content-type, x-request-id, x-counsel-on-behalf-of, "
                   "x-csrf-token"},
                  {"access-control-max-age", "600"}});
    return;
  }
  if (req.method == "GET" || req.method == "HEAD") {
    if (raw_path == "/healthz") return answer->Send(200, "text/plain", "ok\n", {});
    if (raw_path == "/readyz") return ServeReady(front, std::move(answer));
    if (raw_path == "/openapi.json") return answer->Json(200, std::string(kOpenApiJson));
    if (raw_path == "/dashboard" || absl::StartsWith(raw_path, "/dashboard/")) {
      return ServeDashboard(raw_path, answer);
    }
    if (raw_path == "/metrics") {
      return answer->Send(200, "text/plain; version=0.0.4", Metrics::Get().Render(), {});
    }
  }
  if (raw_path == "/v1/sessions" || raw_path == "/v1/sessions/current") {
    return ServeSessions(front, req, raw_path, answer);
  }
  const Transcoder& transcoder = *front->transcoder;
  auto match = transcoder.Find(req.method, raw_path);
  if (!match) {
    if (transcoder.PathExists(raw_path)) {
      return answer->Json(405, ErrorJson(405, absl::StrCat(req.method,
                                                           " is not allowed on this path")));
    }
    return answer->Json(404, ErrorJson(404, absl::StrCat("no route for ", req.method, " ",
                                                         ValidUtf8(raw_path))));
  }
  const MethodPolicy& policy = *match->route->policy;
  answer->set_method(policy.method);
  CallInput input;
  input.policy = &policy;
  input.transport = "http";
  const std::string authorization = req.Header(kAuthorizationHeader);
  const std::string on_behalf_of = req.Header(kOnBehalfOfHeader);
  const std::string forwarded_for = req.Header("x-forwarded-for");
  input.authorization = authorization;
  input.on_behalf_of = on_behalf_of;
  input.request_id = answer->request_id();
  input.peer = req.peer;
  input.forwarded_for = forwarded_for;
  const std::string session = SessionCookie(req);
  const std::string csrf = req.Header("x-csrf-token");
  input.session = session;
  input.csrf_token = csrf;
  input.safe = req.method == "GET" || req.method == "HEAD";
  auto admitted = gateway.Admit(input);
  if (!admitted.ok()) return answer->Error(admitted.status());
  Admission admission = *std::move(admitted);
  answer->set_context(admission.context);
  // The query string of the target only; bodies are JSON whatever the
  // content type says (the server refused other types before the body).
  QueryParams query;
  if (q != std::string::npos &&
      !ParseQueryString(absl::string_view(req.target).substr(q + 1), &query)) {
    return answer->Error(InvalidArgumentField("query", "is not a well-formed query string"));
  }
  const bool watch = policy.method == "/counsel.cases.v1.CaseService/WatchChanges";
  if (watch) {
    // EventSource reconnects with the last id it saw: resume right after it.
    const std::string last_event_id = req.Header("last-event-id");
    bool has_cursor = false;
    for (const auto& [k, v] : query) has_cursor = has_cursor || k == "cursor";
    if (!has_cursor && !last_event_id.empty()) query.emplace_back("cursor", last_event_id);
  }
  // A request with a `locale` takes the browser's Accept-Language when the
  // caller names none.
  const std::string accept_language = req.Header("accept-language");
  if (!accept_language.empty() &&
      policy.descriptor->input_type()->FindFieldByName("locale") != nullptr) {
    bool named = false;
    for (const auto& [k, v] : query) named = named || k == "locale";
    if (!named) query.emplace_back("locale", accept_language.substr(0, 200));
  }
  if (req.body_streamed) {
    // Only the evidence form is streamed (check_headers saw to it).
    auto boundary = MultipartBoundary(req.Header("content-type"));
    if (!boundary.ok()) return answer->Error(boundary.status());
    size_t length = 0;
    if (absl::SimpleAtoi(req.Header("content-length"), &length) &&
        length > kMaxAttachmentBytes + kMaxFormOverhead) {
      return answer->Json(413, ErrorJson(413, "the attachment is larger than 20 MiB"));
    }
    (new FormUpload(front, std::move(answer), std::move(admission), *std::move(match),
                    std::move(query), *std::move(boundary)))
        ->Start();
    return;
  }
  auto bytes = transcoder.BuildRequest(*match, query, req.body);
  if (!bytes.ok()) return answer->Error(bytes.status());
  if (policy.method == "/counsel.cases.v1.CaseService/ReadEvidenceAttachment") {
    (new DownloadRelay(front, std::move(answer), std::move(admission),
                       ParseRange(req.Header("range"))))
        ->Start(*bytes);
    return;
  }
  if (watch) {
    const bool sse = absl::StrContains(req.Header("accept"), "text/event-stream");
    std::make_shared<HttpWatcher>(front, std::move(answer), std::move(admission), sse)
        ->Start(*bytes);
    return;
  }
  if (policy.method == kAddEvidence) {
    (new UploadRelay(front, std::move(answer), std::move(admission)))->Start(*bytes);
    return;
  }
  if (policy.descriptor->server_streaming() || policy.descriptor->client_streaming()) {
    return answer->Error(absl::UnimplementedError("this streaming method is not served over HTTP"));
  }
  struct Call {
    Exchange ex;
    Admission admission;
    const Route* route;
  };
  auto call = std::make_shared<Call>();
  call->admission = std::move(admission);
  call->route = match->route;
  grpc::Slice slice(*bytes);
  call->ex.request = grpc::ByteBuffer(&slice, 1);
  call->ex.shard = gateway.loop().PickShard();
  front->Enter();
  gateway.Forward(policy, call->admission, &call->ex,
                  [front, call, answer, &transcoder](grpc::Status status) {
                    if (!status.ok()) {
                      answer->Status(RpcStatusOf(status));
                    } else if (auto json = transcoder.RenderResponse(*call->route,
                                                                     Flatten(call->ex.response));
                               json.ok()) {
                      answer->Json(200, *std::move(json));
                    } else {
                      answer->Error(json.status());
                    }
                    front->Leave();
                  });
}

}  // namespace

struct HttpFront::State {
  Front front;
};

absl::StatusOr<std::unique_ptr<HttpFront>> HttpFront::Start(const HttpOptions& options,
                                                            const Gateway* gateway,
                                                            const Transcoder* transcoder) {
  std::unique_ptr<HttpFront> out(new HttpFront());
  out->state_ = std::make_unique<State>();
  Front* front = &out->state_->front;
  front->gateway = gateway;
  front->transcoder = transcoder;
  front->fanout = std::make_unique<WatchFanout>(gateway);
  front->cors_origins = options.cors_origins;
  front->secure_cookies = options.secure_cookies;
  HttpServerOptions server;
  server.listen = options.listen;
  server.threads = options.threads;
  server.max_body_bytes = options.max_body_bytes;
  server.header_timeout = options.header_timeout;
  server.idle_timeout = options.idle_timeout;
  server.render_error = ErrorJson;
  server.check_headers = [front](const HttpRequest& req)
      -> std::optional<std::pair<int, std::string>> {
    const bool has_body = !req.Header("transfer-encoding").empty() ||
                          (!req.Header("content-length").empty() &&
                           req.Header("content-length") != "0");
    if (has_body && IsForm(req)) {
      if (EvidenceForm(*front, req)) return std::nullopt;
      return std::make_pair(415, std::string("multipart forms are taken only by POST "
                                             "/v1/{parent=cases/*}/evidence"));
    }
    if (has_body && !JsonContentType(req.Header("content-type"))) {
      return std::make_pair(415, absl::StrCat("the body must be JSON (Content-Type: "
                                              "application/json), not ",
                                              ValidUtf8(req.Header("content-type"))));
    }
    return std::nullopt;
  };
  server.stream_body = [front](const HttpRequest& req) { return EvidenceForm(*front, req); };
  auto started = HttpServer::Start(std::move(server), [front](HttpRequest req,
                                                              std::shared_ptr<HttpResponder> res) {
    Handle(front, std::move(req), std::move(res));
  });
  if (!started.ok()) return started.status();
  out->server_ = *std::move(started);
  const std::string host = options.listen.substr(0, options.listen.rfind(':'));
  log::Info("listening", {{"program", "counsel-gateway"},
                          {"transport", "http"},
                          {"address", absl::StrCat(host, ":", out->server_->port())},
                          {"port", out->server_->port()}});
  return out;
}

HttpFront::~HttpFront() { Stop(); }

int HttpFront::port() const { return server_ ? server_->port() : 0; }

void HttpFront::Stop() {
  if (server_ == nullptr) return;
  server_->Stop();
  state_->front.fanout->Stop();
  // Completions of calls still in flight post to the server's connections:
  // wait for them (they end quickly once their streams are told to stop).
  Front& front = state_->front;
  absl::MutexLock lock(&front.mu);
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (front.active.load() > 0 && !front.idle.WaitWithDeadline(&front.mu, deadline)) {
  }
  server_.reset();
}

}  // namespace counsel::gateway

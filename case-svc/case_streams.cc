// The streaming methods of CaseService: an evidence upload (client
// stream), an attachment download and the change watch (server streams).
// Each is a reactor that owns its call; the rules they apply are the book's.
#include <deque>

#include "absl/strings/str_cat.h"
#include "case-svc/case_service.h"
#include "case-svc/domain/case_book.h"
#include "common/crypto.h"
#include "common/errors.h"
#include "common/grpc_util.h"
#include "common/status_macros.h"
#include "google/protobuf/util/time_util.h"

namespace counsel::cases {
namespace {

using google::protobuf::util::TimeUtil;

}  // namespace

// Client-streaming upload of one evidence entry with its attachment.
class EvidenceUpload final : public grpc::ServerReadReactor<v1::AddEvidenceRequest> {
 public:
  EvidenceUpload(CaseServiceImpl* service, grpc::CallbackServerContext* context,
                 v1::Evidence* response)
      : service_(service), context_(context), response_(response) {
    auto cc = service->Authorize(*context, "AddEvidence", kScopeCasesWrite);
    if (!cc.ok()) {
      Finish(ToGrpcStatus(cc.status()));
      return;
    }
    cc_ = *cc;
    StartRead(&message_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      // The end of the stream, or a cancelled upload: only the first is
      // evidence; a partial attachment must never be stored.
      if (context_->IsCancelled()) {
        Finish(grpc::Status(grpc::StatusCode::CANCELLED, "the upload was cancelled"));
      } else {
        Complete();
      }
      return;
    }
    if (first_) {
      first_ = false;
      header_ = message_;
      header_.clear_chunk();
    } else if (absl::Status st = CaseBook::MergeLateUploadMessage(message_, &header_);
               !st.ok()) {
      Finish(ToGrpcStatus(st));
      return;
    }
    if (attachment_.size() + message_.chunk().size() > service_->options_.max_attachment_bytes) {
      Finish(ToGrpcStatus(InvalidArgumentField("chunk", "the attachment is larger than 20 MiB")));
      return;
    }
    attachment_ += message_.chunk();
    message_.Clear();
    StartRead(&message_);
  }

  void OnDone() override { delete this; }

 private:
  void Complete() {
    if (first_) {
      Finish(ToGrpcStatus(InvalidArgumentField("parent", "no message was sent")));
      return;
    }
    auto prepared = service_->book_.PrepareEvidence(header_, std::move(attachment_));
    if (!prepared.ok()) {
      Finish(ToGrpcStatus(prepared.status()));
      return;
    }
    const CallContext cc = cc_;
    service_->store_->AddEvidence(
        ActorOf(cc), prepared->first, std::move(prepared->second),
        [this, cc](absl::StatusOr<v1::Evidence> e) {
          if (e.ok()) {
            *response_ = std::move(*e);
            PresentEvidence(cc, *response_);
          }
          Finish(ToGrpcStatus(e.status()));
        });
  }

  CaseServiceImpl* service_;
  grpc::CallbackServerContext* context_;
  v1::Evidence* response_;
  CallContext cc_;
  v1::AddEvidenceRequest message_;
  v1::AddEvidenceRequest header_;
  bool first_ = true;
  std::string attachment_;
};

grpc::ServerReadReactor<v1::AddEvidenceRequest>* CaseServiceImpl::AddEvidence(
    grpc::CallbackServerContext* context, v1::Evidence* response) {
  return new EvidenceUpload(this, context, response);
}

// ReadEvidenceAttachment: the opened attachment is checked against its
// stored digest, then written one chunk at a time (the next once the
// previous has gone), so a slow reader holds one chunk of gRPC's buffers.
class AttachmentReader final
    : public grpc::ServerWriteReactor<v1::ReadEvidenceAttachmentResponse> {
 public:
  static constexpr size_t kChunk = 64 << 10;

  AttachmentReader(CaseServiceImpl* service, grpc::CallbackServerContext* context,
                   const v1::ReadEvidenceAttachmentRequest* request) {
    auto cc = service->Authorize(*context, "ReadEvidenceAttachment", kScopeCasesRead);
    if (cc.ok() && !HasScope(*cc, kScopeCasesPii) && cc->client_id().empty()) {
      // Bytes cannot be masked: without cases.pii only the client's own
      // key (or one acting for the client) may read them.
      cc = absl::PermissionDeniedError(
          "an attachment cannot be masked: reading it needs cases.pii, or a key bound to or "
          "acting for the case's client");
    }
    if (!cc.ok()) {
      Finish(ToGrpcStatus(cc.status()));
      return;
    }
    service->executor_.Schedule([this, service, cc = *std::move(cc), request] {
      if (absl::Status st = Load(service, cc, *request); !st.ok()) {
        Finish(ToGrpcStatus(st));
        return;
      }
      WriteNext();
    });
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "the reader went away"));
      return;
    }
    WriteNext();
  }

  void OnDone() override {
    if (service_ != nullptr) service_->download_bytes_.fetch_sub(held_);
    delete this;
  }

 private:
  absl::Status Load(CaseServiceImpl* service, const CallContext& cc,
                    const v1::ReadEvidenceAttachmentRequest& request) {
    ASSIGN_OR_RETURN(auto ids, ParseEvidenceName(request.name(), "name"));
    if (request.read_limit() < 0) return InvalidArgumentField("read_limit", "must be >= 0");
    ASSIGN_OR_RETURN(EvidenceAttachment a,
                     service->store_->ReadEvidenceAttachment(ActorOf(cc), ids.first, ids.second));
    if (crypto::HexEncode(crypto::Sha256(a.bytes)) != a.evidence.attachment().sha256()) {
      return absl::DataLossError(
          "the stored attachment does not match its SHA-256; nothing was sent");
    }
    const int64_t size = static_cast<int64_t>(a.bytes.size());
    // Each download holds its opened attachment until it ends: their sum
    // is capped, so slow readers cannot pin the process's memory.
    if (service->download_bytes_.fetch_add(size) + size > service->options_.max_download_bytes) {
      service->download_bytes_.fetch_sub(size);
      return ResourceExhaustedRetryAfter(
          "too many attachments are being downloaded at once; retry shortly", absl::Seconds(1));
    }
    service_ = service;
    held_ = size;
    // A negative offset counts back from the end (the last N bytes).
    const int64_t offset = request.read_offset() < 0
                               ? std::max<int64_t>(0, size + request.read_offset())
                               : request.read_offset();
    if (offset >= size) {
      return absl::OutOfRangeError(
          absl::StrCat("read_offset is beyond the attachment's ", size, " bytes"));
    }
    bytes_ = std::move(a.bytes);
    next_ = static_cast<size_t>(offset);
    end_ = request.read_limit() == 0 || request.read_limit() > size - offset
               ? bytes_.size()
               : static_cast<size_t>(offset + request.read_limit());
    *first_.mutable_attachment() = a.evidence.attachment();
    return absl::OkStatus();
  }

  // Always one message, even for an empty range: the first describes the
  // attachment.
  void WriteNext() {
    if (sent_first_ && next_ >= end_) {
      Finish(grpc::Status::OK);
      return;
    }
    message_ = sent_first_ ? v1::ReadEvidenceAttachmentResponse() : first_;
    sent_first_ = true;
    const size_t n = std::min(kChunk, end_ - next_);
    message_.set_offset(static_cast<int64_t>(next_));
    message_.set_chunk(bytes_.substr(next_, n));
    next_ += n;
    StartWrite(&message_);
  }

  CaseServiceImpl* service_ = nullptr;  // set once bytes are held
  int64_t held_ = 0;
  std::string bytes_;
  size_t next_ = 0, end_ = 0;
  bool sent_first_ = false;
  v1::ReadEvidenceAttachmentResponse first_, message_;
};

grpc::ServerWriteReactor<v1::ReadEvidenceAttachmentResponse>*
CaseServiceImpl::ReadEvidenceAttachment(grpc::CallbackServerContext* context,
                                        const v1::ReadEvidenceAttachmentRequest* request) {
  return new AttachmentReader(this, context, request);
}

// A server stream of the tenant's changes from a cursor, then live, with
// bookmarks while idle. A slow reader only slows itself: it reads committed
// changes from the database at its own pace.
class ChangeWatch final : public grpc::ServerWriteReactor<v1::WatchChangesResponse> {
 public:
  ChangeWatch(CaseServiceImpl* service, grpc::CallbackServerContext* context,
              const v1::WatchChangesRequest* request)
      : service_(service), link_(std::make_shared<Link>()) {
    auto cc = service->Authorize(*context, "WatchChanges", kScopeCasesRead);
    if (!cc.ok()) {
      Finish(ToGrpcStatus(cc.status()));
      return;
    }
    cc_ = *cc;
    full_ = request->view() == v1::CHANGE_VIEW_FULL;
    absl::Status st;
    if (request->cursor().empty()) {
      auto latest = service->store_->LatestSeq(cc_.tenant());
      st = latest.status();
      if (latest.ok()) seq_ = *latest;
    } else {
      st = service->DecodeCursor(cc_, request->cursor(), "cursor", &seq_).status();
    }
    if (!st.ok()) {
      Finish(ToGrpcStatus(st));
      return;
    }
    // The first fetch starts before the hub can wake this watcher, so that
    // a wake-up finds it busy and only asks for a rescan: one operation in
    // flight at a time.
    absl::MutexLock lock(&mu_);
    FetchLocked();
    link_->watch = this;
    hub_id_ = service->hub_.Add([link = link_](bool bookmark) {
      absl::MutexLock lock(&link->mu);
      if (link->watch != nullptr) link->watch->Wake(bookmark);
    });
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    busy_ = false;
    if (!ok || cancelled_) {
      FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "the watcher went away"));
      return;
    }
    if (!pending_.empty()) {
      WriteNextLocked();
    } else {
      FetchLocked();
    }
  }

  void OnCancel() override {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
    if (!busy_) FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
  }

  void OnDone() override {
    {
      absl::MutexLock lock(&link_->mu);
      link_->watch = nullptr;
    }
    if (hub_id_ != 0) service_->hub_.Remove(hub_id_);
    // Finish is called under mu_ and OnDone may run on another thread
    // before that caller has let go of it: wait for it to leave.
    { absl::MutexLock lock(&mu_); }
    delete this;
  }

 private:
  struct Link {
    absl::Mutex mu;
    ChangeWatch* watch = nullptr;
  };

  void Wake(bool bookmark) {
    absl::MutexLock lock(&mu_);
    if (finished_) return;
    if (cancelled_) {
      if (!busy_) FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
      return;
    }
    if (busy_) {
      if (!bookmark) rescan_ = true;
      return;
    }
    if (bookmark) {
      WriteBookmarkLocked();
    } else {
      FetchLocked();
    }
  }

  void WriteBookmarkLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    current_.Clear();
    current_.mutable_bookmark()->set_cursor(
        service_->cursors_.Encode(cc_.tenant(), cc_.client_id(), seq_));
    *current_.mutable_bookmark()->mutable_time() =
        google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(
            absl::ToUnixMicros(service_->clock_->Now()));
    busy_ = true;
    StartWrite(&current_);
  }

  void FetchLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    busy_ = true;
    rescan_ = false;
    service_->executor_.Schedule([this] {
      auto changes = service_->store_->ChangesAfter(ActorOf(cc_), seq_, 100);
      if (changes.ok() && full_) {
        if (absl::Status st = service_->AttachCases(cc_, *changes); !st.ok()) changes = st;
      }
      absl::MutexLock lock(&mu_);
      busy_ = false;
      if (!changes.ok()) {
        FinishLocked(ToGrpcStatus(changes.status()));
        return;
      }
      if (cancelled_) {
        FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
        return;
      }
      for (auto& [s, change] : *changes) {
        change.set_cursor(service_->cursors_.Encode(cc_.tenant(), cc_.client_id(), s));
        pending_.emplace_back(s, std::move(change));
      }
      const bool first = std::exchange(first_fetch_, false);
      if (!pending_.empty()) {
        WriteNextLocked();
      } else if (first) {
        // At once, not at the first interval: the watcher learns where it
        // starts (a gateway joining watchers onto it needs that).
        WriteBookmarkLocked();
      } else if (rescan_) {
        FetchLocked();
      }
    });
  }

  void WriteNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto [s, change] = std::move(pending_.front());
    pending_.pop_front();
    seq_ = s;
    current_.Clear();
    PresentEvent(cc_, *change.mutable_event());
    *current_.mutable_change() = std::move(change);
    busy_ = true;
    StartWrite(&current_);
  }

  void FinishLocked(const grpc::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    finished_ = true;
    Finish(status);
  }

  CaseServiceImpl* service_;
  std::shared_ptr<Link> link_;
  int64_t hub_id_ = 0;
  CallContext cc_;
  absl::Mutex mu_;
  int64_t seq_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<std::pair<int64_t, v1::Change>> pending_ ABSL_GUARDED_BY(mu_);
  bool full_ = false;  // CHANGE_VIEW_FULL: each change carries its case
  bool first_fetch_ ABSL_GUARDED_BY(mu_) = true;
  v1::WatchChangesResponse current_;
  bool busy_ ABSL_GUARDED_BY(mu_) = false;
  bool rescan_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

grpc::ServerWriteReactor<v1::WatchChangesResponse>* CaseServiceImpl::WatchChanges(
    grpc::CallbackServerContext* context, const v1::WatchChangesRequest* request) {
  return new ChangeWatch(this, context, request);
}

}  // namespace counsel::cases

#include "gateway/http/multipart.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/errors.h"
#include "gateway/http/transcoder.h"

namespace counsel::gateway {
namespace {

constexpr char kField[] = "multipart";

// RFC 2046 §5.1.1: 1 to 70 characters from a restricted set.
bool ValidBoundary(absl::string_view b) {
  if (b.empty() || b.size() > 70 || b.back() == ' ') return false;
  for (char c : b) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) &&
        std::string_view("'()+_,-./:=? ").find(c) == std::string_view::npos) {
      return false;
    }
  }
  return true;
}

// One parameter value: a quoted string (with backslash escapes) or a token.
// Advances `in` past it.
std::string ParamValue(absl::string_view& in) {
  std::string out;
  if (absl::ConsumePrefix(&in, "\"")) {
    while (!in.empty() && in.front() != '"') {
      if (in.front() == '\\' && in.size() > 1) in.remove_prefix(1);
      out.push_back(in.front());
      in.remove_prefix(1);
    }
    absl::ConsumePrefix(&in, "\"");
    return out;
  }
  const size_t end = in.find(';');
  out = std::string(absl::StripAsciiWhitespace(in.substr(0, end)));
  in.remove_prefix(end == absl::string_view::npos ? in.size() : end);
  return out;
}

// `key=value; key="value"` pairs after the first item of a header value;
// keys lower-cased.
std::vector<std::pair<std::string, std::string>> Params(absl::string_view in) {
  std::vector<std::pair<std::string, std::string>> out;
  while (true) {
    in = absl::StripLeadingAsciiWhitespace(in);
    if (!absl::ConsumePrefix(&in, ";")) break;
    in = absl::StripLeadingAsciiWhitespace(in);
    const size_t eq = in.find('=');
    if (eq == absl::string_view::npos) break;
    std::string key = absl::AsciiStrToLower(absl::StripAsciiWhitespace(in.substr(0, eq)));
    in.remove_prefix(eq + 1);
    in = absl::StripLeadingAsciiWhitespace(in);
    out.emplace_back(std::move(key), ParamValue(in));
  }
  return out;
}

}  // namespace

absl::StatusOr<std::string> MultipartBoundary(absl::string_view content_type) {
  const size_t semi = content_type.find(';');
  const std::string type =
      absl::AsciiStrToLower(absl::StripAsciiWhitespace(content_type.substr(0, semi)));
  if (type != "multipart/form-data") {
    return InvalidArgumentField("content-type", "must be multipart/form-data");
  }
  if (semi != absl::string_view::npos) {
    for (auto& [k, v] : Params(content_type.substr(semi))) {
      if (k == "boundary" && ValidBoundary(v)) return v;
    }
  }
  return InvalidArgumentField("content-type", "names no valid multipart boundary");
}

MultipartReader::MultipartReader(std::string boundary)
    : delimiter_(absl::StrCat("\r\n--", boundary)), pending_("\r\n") {}

absl::Status MultipartReader::Fail(absl::string_view why) {
  state_ = State::kFailed;
  pending_.clear();
  failure_ = InvalidArgumentField(kField, why);
  return failure_;
}

absl::Status MultipartReader::ParseHeaders(absl::string_view block, MultipartPart* part) const {
  bool disposition = false;
  for (absl::string_view line : absl::StrSplit(block, "\r\n", absl::SkipEmpty())) {
    const size_t colon = line.find(':');
    if (colon == absl::string_view::npos) {
      return absl::InvalidArgumentError("a part header has no colon");
    }
    const std::string name = absl::AsciiStrToLower(absl::StripAsciiWhitespace(line.substr(0, colon)));
    absl::string_view value = absl::StripAsciiWhitespace(line.substr(colon + 1));
    if (name == "content-type") {
      part->content_type = std::string(value);
    } else if (name == "content-disposition") {
      const size_t semi = value.find(';');
      if (!absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(value.substr(0, semi)),
                                  "form-data")) {
        return absl::InvalidArgumentError("every part must be Content-Disposition: form-data");
      }
      disposition = true;
      if (semi == absl::string_view::npos) continue;
      for (auto& [k, v] : Params(value.substr(semi))) {
        if (k == "name") {
          part->name = v;
        } else if (k == "filename") {
          part->filename = v;
          part->has_filename = true;
        } else if (k == "filename*") {
          // RFC 5987: UTF-8''percent-encoded; it wins over `filename`.
          absl::string_view ext = v;
          std::string decoded;
          const size_t quote = ext.find("''");
          if (quote != absl::string_view::npos &&
              absl::EqualsIgnoreCase(ext.substr(0, quote), "utf-8") &&
              PercentDecode(ext.substr(quote + 2), &decoded)) {
            part->filename = std::move(decoded);
            part->has_filename = true;
          }
        }
      }
    }
  }
  if (!disposition || part->name.empty()) {
    return absl::InvalidArgumentError("a part has no Content-Disposition: form-data; name=…");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<MultipartEvent>> MultipartReader::Feed(absl::string_view bytes) {
  if (state_ == State::kFailed) return failure_;
  std::vector<MultipartEvent> events;
  if (state_ == State::kEpilogue) return events;  // anything after the end is ignored
  pending_.append(bytes.data(), bytes.size());
  size_t at = 0;  // bytes of pending_ consumed
  while (true) {
    absl::string_view rest = absl::string_view(pending_).substr(at);
    if (state_ == State::kPreamble || state_ == State::kData) {
      const size_t found = rest.find(delimiter_);
      const size_t keep = delimiter_.size() - 1;  // a delimiter's prefix may end the piece
      if (found == absl::string_view::npos) {
        if (state_ == State::kData && rest.size() > keep) {
          events.push_back({MultipartEvent::Kind::kData, {},
                            std::string(rest.substr(0, rest.size() - keep))});
          at += rest.size() - keep;
        } else if (state_ == State::kPreamble && rest.size() > keep) {
          at += rest.size() - keep;
        }
        break;
      }
      if (state_ == State::kData) {
        if (found > 0) {
          events.push_back({MultipartEvent::Kind::kData, {}, std::string(rest.substr(0, found))});
        }
        events.push_back({MultipartEvent::Kind::kPartEnd, {}, {}});
      }
      at += found + delimiter_.size();
      state_ = State::kAfterBoundary;
    } else if (state_ == State::kAfterBoundary) {
      // "--" closes the form; otherwise optional padding, then CRLF.
      size_t i = 0;
      if (rest.size() < 2) break;
      if (rest.substr(0, 2) == "--") {
        state_ = State::kEpilogue;
        at = pending_.size();
        break;
      }
      while (i < rest.size() && (rest[i] == ' ' || rest[i] == '\t')) ++i;
      if (rest.size() - i < 2) {
        if (i > 256) return Fail("padding after a boundary is too long");
        break;
      }
      if (rest.substr(i, 2) != "\r\n") return Fail("a boundary is not followed by a line break");
      at += i + 2;
      state_ = State::kHeaders;
    } else if (state_ == State::kHeaders) {
      MultipartPart part;
      size_t end;
      if (absl::StartsWith(rest, "\r\n")) {
        end = 0;
      } else {
        end = rest.find("\r\n\r\n");
        if (end == absl::string_view::npos) {
          if (rest.size() > kMaxPartHeaderBytes) return Fail("a part's headers are too large");
          break;
        }
        end += 2;
      }
      if (end > kMaxPartHeaderBytes) return Fail("a part's headers are too large");
      if (++parts_ > kMaxParts) return Fail(absl::StrCat("a form has at most ", kMaxParts, " parts"));
      if (absl::Status st = ParseHeaders(rest.substr(0, end), &part); !st.ok()) {
        return Fail(st.message());
      }
      events.push_back({MultipartEvent::Kind::kPartStart, std::move(part), {}});
      at += end + 2;
      state_ = State::kData;
    } else {
      break;
    }
  }
  pending_.erase(0, at);
  return events;
}

absl::Status MultipartReader::Finish() const {
  if (state_ == State::kFailed) return failure_;
  if (state_ != State::kEpilogue) {
    return InvalidArgumentField(kField, "the form ended before its closing boundary");
  }
  return absl::OkStatus();
}

}  // namespace counsel::gateway

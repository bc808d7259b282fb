#include "gateway/http/transcoder.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "google/api/annotations.pb.h"
#include "google/protobuf/dynamic_message.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace counsel::gateway {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// Finds a field by its proto name or its JSON (lowerCamelCase) name.
const FieldDescriptor* FindField(const google::protobuf::Descriptor* d, absl::string_view name) {
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    if (f->name() == name || f->json_name() == name) return f;
  }
  return nullptr;
}

bool IsWellKnownStringType(const FieldDescriptor* f) {
  if (f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) return false;
  const std::string& n = f->message_type()->full_name();
  return n == "google.protobuf.Timestamp" || n == "google.protobuf.Duration" ||
         n == "google.protobuf.FieldMask";
}

// Sets the (possibly nested, possibly repeated) field at `path` from text.
absl::Status SetFromText(Message* root, absl::string_view path, absl::string_view value,
                         absl::string_view param) {
  auto bad = [&](absl::string_view why) { return InvalidArgumentField(param, why); };
  Message* msg = root;
  std::vector<absl::string_view> parts = absl::StrSplit(path, '.');
  for (size_t i = 0; i < parts.size(); ++i) {
    const FieldDescriptor* f = FindField(msg->GetDescriptor(), parts[i]);
    if (f == nullptr) return bad("no such field");
    const Reflection* r = msg->GetReflection();
    const bool last = i + 1 == parts.size();
    if (!last) {
      if (f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE || f->is_repeated()) {
        return bad("no such field");
      }
      msg = r->MutableMessage(msg, f);
      continue;
    }
    if (f->is_map()) return bad("map fields cannot be set from the query string");
    const std::string text(value);
    switch (f->cpp_type()) {
      case FieldDescriptor::CPPTYPE_STRING:
        if (f->type() == FieldDescriptor::TYPE_BYTES) return bad("bytes cannot be set here");
        f->is_repeated() ? r->AddString(msg, f, text) : r->SetString(msg, f, text);
        return absl::OkStatus();
      case FieldDescriptor::CPPTYPE_BOOL: {
        bool b;
        if (text == "true" || text == "1") b = true;
        else if (text == "false" || text == "0") b = false;
        else return bad("must be true or false");
        f->is_repeated() ? r->AddBool(msg, f, b) : r->SetBool(msg, f, b);
        return absl::OkStatus();
      }
      case FieldDescriptor::CPPTYPE_INT32: {
        int32_t v;
        if (!absl::SimpleAtoi(text, &v)) return bad("must be a 32-bit integer");
        f->is_repeated() ? r->AddInt32(msg, f, v) : r->SetInt32(msg, f, v);
        return absl::OkStatus();
      }
      case FieldDescriptor::CPPTYPE_INT64: {
        int64_t v;
        if (!absl::SimpleAtoi(text, &v)) return bad("must be an integer");
        f->is_repeated() ? r->AddInt64(msg, f, v) : r->SetInt64(msg, f, v);
        return absl::OkStatus();
      }
      case FieldDescriptor::CPPTYPE_UINT32: {
        uint32_t v;
        if (!absl::SimpleAtoi(text, &v)) return bad("must be an unsigned integer");
        f->is_repeated() ? r->AddUInt32(msg, f, v) : r->SetUInt32(msg, f, v);
        return absl::OkStatus();
      }
      case FieldDescriptor::CPPTYPE_UINT64: {
        uint64_t v;
        if (!absl::SimpleAtoi(text, &v)) return bad("must be an unsigned integer");
        f->is_repeated() ? r->AddUInt64(msg, f, v) : r->SetUInt64(msg, f, v);
        return absl::OkStatus();
      }
      case FieldDescriptor::CPPTYPE_DOUBLE:
      case FieldDescriptor::CPPTYPE_FLOAT: {
        double v;
        if (!absl::SimpleAtod(text, &v)) return bad("must be a number");
        if (f->cpp_type() == FieldDescriptor::CPPTYPE_DOUBLE) {
          f->is_repeated() ? r->AddDouble(msg, f, v) : r->SetDouble(msg, f, v);
        } else {
          f->is_repeated() ? r->AddFloat(msg, f, static_cast<float>(v))
                           : r->SetFloat(msg, f, static_cast<float>(v));
        }
        return absl::OkStatus();
      }
      case FieldDescriptor::CPPTYPE_ENUM: {
        const auto* e = f->enum_type()->FindValueByName(text);
        int number = 0;
        if (e == nullptr) {
          // Short names (IN_PROGRESS for STATE_IN_PROGRESS) and numbers.
          for (int k = 0; e == nullptr && k < f->enum_type()->value_count(); ++k) {
            const auto* cand = f->enum_type()->value(k);
            if (absl::EndsWith(cand->name(), absl::StrCat("_", text))) e = cand;
          }
          if (e == nullptr && absl::SimpleAtoi(text, &number)) {
            e = f->enum_type()->FindValueByNumber(number);
          }
        }
        if (e == nullptr) return bad("is not a known value");
        f->is_repeated() ? r->AddEnumValue(msg, f, e->number())
                         : r->SetEnumValue(msg, f, e->number());
        return absl::OkStatus();
      }
      case FieldDescriptor::CPPTYPE_MESSAGE: {
        if (!IsWellKnownStringType(f)) return bad("cannot be set from the query string");
        Message* sub = f->is_repeated() ? r->AddMessage(msg, f) : r->MutableMessage(msg, f);
        std::string json;
        json.push_back('"');
        for (char c : text) {
          if (c == '"' || c == '\\') json.push_back('\\');
          json.push_back(c);
        }
        json.push_back('"');
        if (!google::protobuf::util::JsonStringToMessage(json, sub).ok()) {
          return bad(absl::StrCat("is not a valid ", f->message_type()->name()));
        }
        return absl::OkStatus();
      }
    }
  }
  return bad("no such field");
}

absl::Status ParseSegments(absl::string_view text, Route* route, bool in_variable) {
  for (absl::string_view seg : absl::StrSplit(text, '/')) {
    if (seg.empty()) return absl::InvalidArgumentError("empty path segment");
    if (!in_variable && absl::StartsWith(seg, "{")) {
      return absl::InvalidArgumentError("internal: variable not split");
    }
    route->segments.emplace_back(seg);
  }
  return absl::OkStatus();
}

bool SegmentMatches(const std::string& pattern, absl::string_view seg) {
  return pattern == "*" ? !seg.empty() : pattern == seg;
}

}  // namespace

bool PercentDecode(absl::string_view in, std::string* out) {
  out->clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out->push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size()) return false;
    int v = 0;
    for (size_t k = 1; k <= 2; ++k) {
      const char c = in[i + k];
      v <<= 4;
      if (c >= '0' && c <= '9') v |= c - '0';
      else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
      else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
      else return false;
    }
    out->push_back(static_cast<char>(v));
    i += 2;
  }
  return true;
}

bool ParseQueryString(absl::string_view query, QueryParams* out) {
  for (absl::string_view pair : absl::StrSplit(query, '&', absl::SkipEmpty())) {
    const size_t eq = pair.find('=');
    std::string key(pair.substr(0, eq));
    std::string value(eq == absl::string_view::npos ? "" : pair.substr(eq + 1));
    std::replace(key.begin(), key.end(), '+', ' ');
    std::replace(value.begin(), value.end(), '+', ' ');
    std::string k, v;
    if (!PercentDecode(key, &k) || !PercentDecode(value, &v)) return false;
    out->emplace_back(std::move(k), std::move(v));
  }
  return true;
}

absl::StatusOr<Route> ParsePathTemplate(absl::string_view pattern) {
  Route route;
  route.pattern = std::string(pattern);
  absl::string_view rest = pattern;
  if (!absl::ConsumePrefix(&rest, "/")) return absl::InvalidArgumentError("must start with /");
  // The verb is a ':' outside braces after the last segment.
  size_t depth = 0, verb_at = absl::string_view::npos;
  for (size_t i = 0; i < rest.size(); ++i) {
    if (rest[i] == '{') ++depth;
    else if (rest[i] == '}') --depth;
    else if (rest[i] == ':' && depth == 0) verb_at = i;
  }
  if (verb_at != absl::string_view::npos) {
    route.verb = std::string(rest.substr(verb_at + 1));
    rest = rest.substr(0, verb_at);
  }
  while (!rest.empty()) {
    if (absl::StartsWith(rest, "{")) {
      const size_t close = rest.find('}');
      if (close == absl::string_view::npos) return absl::InvalidArgumentError("unclosed {");
      absl::string_view inside = rest.substr(1, close - 1);
      Route::Variable var;
      const size_t eq = inside.find('=');
      var.field_path = std::string(inside.substr(0, eq));
      var.begin = route.segments.size();
      RETURN_IF_ERROR(ParseSegments(eq == absl::string_view::npos ? "*" : inside.substr(eq + 1),
                                    &route, true));
      var.end = route.segments.size();
      route.variables.push_back(var);
      rest = rest.substr(close + 1);
    } else {
      const size_t slash = rest.find('/');
      RETURN_IF_ERROR(ParseSegments(rest.substr(0, slash), &route, false));
      rest = slash == absl::string_view::npos ? "" : rest.substr(slash);
    }
    if (!rest.empty() && !absl::ConsumePrefix(&rest, "/")) {
      return absl::InvalidArgumentError("segments must be separated by /");
    }
  }
  return route;
}

absl::StatusOr<std::unique_ptr<Transcoder>> Transcoder::Build() {
  std::unique_ptr<Transcoder> t(new Transcoder());
  for (const MethodPolicy& policy : PolicyTable::Get().all()) {
    const auto& rule = policy.descriptor->options().GetExtension(google::api::http);
    std::string verb, pattern;
    switch (rule.pattern_case()) {
      case google::api::HttpRule::kGet: verb = "GET"; pattern = rule.get(); break;
      case google::api::HttpRule::kPost: verb = "POST"; pattern = rule.post(); break;
      case google::api::HttpRule::kPatch: verb = "PATCH"; pattern = rule.patch(); break;
      case google::api::HttpRule::kPut: verb = "PUT"; pattern = rule.put(); break;
      case google::api::HttpRule::kDelete: verb = "DELETE"; pattern = rule.delete_(); break;
      default:
        return absl::InternalError(absl::StrCat(policy.method, " has no google.api.http rule"));
    }
    auto route = ParsePathTemplate(pattern);
    if (!route.ok()) {
      return absl::InternalError(absl::StrCat(policy.method, ": ", route.status().message()));
    }
    route->policy = &policy;
    route->http_method = verb;
    route->body = rule.body();
    t->routes_.push_back(std::move(*route));
  }
  // Verbs first, then more literal segments, so that /v1/{name=cases/*}:brief
  // wins over /v1/{name=cases/*} and /v1/cases:stats over /v1/cases.
  std::stable_sort(t->routes_.begin(), t->routes_.end(), [](const Route& a, const Route& b) {
    if (a.verb.empty() != b.verb.empty()) return !a.verb.empty();
    auto literals = [](const Route& r) {
      return std::count_if(r.segments.begin(), r.segments.end(),
                           [](const std::string& s) { return s != "*" && s != "**"; });
    };
    return literals(a) > literals(b);
  });
  return t;
}

namespace {

using google::protobuf::Descriptor;
using google::protobuf::Value;

bool IsWellKnown(const Descriptor* d) {
  return absl::StartsWith(d->full_name(), "google.protobuf.");
}

// Walks a JSON body against the message it stands for and names every
// field that cannot be read (protobuf's parser stops at the first): unknown
// fields, values of the wrong kind, enum values that do not exist (with the
// ones that do).
void CheckJson(const Descriptor* d, const Value& v, const std::string& path,
               std::vector<std::pair<std::string, std::string>>& out) {
  if (out.size() >= 50 || IsWellKnown(d)) return;
  if (v.kind_case() != Value::kStructValue) {
    if (v.kind_case() != Value::kNullValue) out.emplace_back(path, "must be a JSON object");
    return;
  }
  for (const auto& [key, value] : v.struct_value().fields()) {
    const FieldDescriptor* f = d->FindFieldByName(key);
    for (int i = 0; f == nullptr && i < d->field_count(); ++i) {
      if (d->field(i)->json_name() == key) f = d->field(i);
    }
    const std::string at = path.empty() ? key : absl::StrCat(path, ".", key);
    if (f == nullptr) {
      out.emplace_back(at, absl::StrCat("is not a field of ", d->name()));
      continue;
    }
    auto one = [&](const Value& item, const std::string& item_path) {
      if (item.kind_case() == Value::kNullValue) return;
      switch (f->cpp_type()) {
        case FieldDescriptor::CPPTYPE_MESSAGE:
          if (!f->is_map()) CheckJson(f->message_type(), item, item_path, out);
          break;
        case FieldDescriptor::CPPTYPE_ENUM: {
          const auto* e = f->enum_type();
          const bool known =
              (item.kind_case() == Value::kStringValue &&
               e->FindValueByName(item.string_value()) != nullptr) ||
              (item.kind_case() == Value::kNumberValue &&
               e->FindValueByNumber(static_cast<int>(item.number_value())) != nullptr);
          if (!known) {
            std::vector<std::string> names;
            for (int i = 0; i < e->value_count(); ++i) {
              if (e->value(i)->number() != 0) names.push_back(e->value(i)->name());
            }
            out.emplace_back(item_path, absl::StrCat("is not a value of ", e->name(), ": one of ",
                                                     absl::StrJoin(names, ", ")));
          }
          break;
        }
        case FieldDescriptor::CPPTYPE_BOOL:
          if (item.kind_case() != Value::kBoolValue) out.emplace_back(item_path, "must be true or false");
          break;
        case FieldDescriptor::CPPTYPE_STRING:
          if (item.kind_case() != Value::kStringValue) out.emplace_back(item_path, "must be a string");
          break;
        default:  // numbers: JSON numbers, or strings for 64-bit values
          if (item.kind_case() != Value::kNumberValue && item.kind_case() != Value::kStringValue) {
            out.emplace_back(item_path, "must be a number");
          }
      }
    };
    if (f->is_map()) {
      if (value.kind_case() != Value::kStructValue) out.emplace_back(at, "must be a JSON object");
    } else if (f->is_repeated()) {
      if (value.kind_case() != Value::kListValue) {
        out.emplace_back(at, "must be a JSON array");
        continue;
      }
      for (int i = 0; i < value.list_value().values_size(); ++i) {
        one(value.list_value().values(i), absl::StrCat(at, "[", i, "]"));
      }
    } else {
      one(value, at);
    }
  }
}

}  // namespace

namespace {

std::optional<RouteMatch> MatchRoute(const Route& route, absl::string_view path) {
  absl::string_view rest = path;
  if (!absl::ConsumePrefix(&rest, "/")) return std::nullopt;
  if (!route.verb.empty()) {
    if (!absl::ConsumeSuffix(&rest, absl::StrCat(":", route.verb))) return std::nullopt;
  }
  std::vector<absl::string_view> segs = absl::StrSplit(rest, '/');
  const bool tail = !route.segments.empty() && route.segments.back() == "**";
  if (tail ? segs.size() < route.segments.size() : segs.size() != route.segments.size()) {
    return std::nullopt;
  }
  for (size_t i = 0; i < route.segments.size(); ++i) {
    if (route.segments[i] == "**") break;
    if (!SegmentMatches(route.segments[i], segs[i])) return std::nullopt;
  }
  RouteMatch m;
  m.route = &route;
  for (const auto& v : route.variables) {
    std::string value;
    const size_t end = (tail && v.end == route.segments.size()) ? segs.size() : v.end;
    for (size_t i = v.begin; i < end; ++i) {
      std::string decoded;
      if (!PercentDecode(segs[i], &decoded)) return std::nullopt;
      if (i > v.begin) value.push_back('/');
      value += decoded;
    }
    m.bindings.emplace_back(v.field_path, std::move(value));
  }
  return m;
}

}  // namespace

std::optional<RouteMatch> Transcoder::Find(absl::string_view http_method,
                                           absl::string_view path) const {
  for (const Route& r : routes_) {
    if (r.http_method != http_method) continue;
    if (auto m = MatchRoute(r, path)) return m;
  }
  return std::nullopt;
}

bool Transcoder::PathExists(absl::string_view path) const {
  return std::any_of(routes_.begin(), routes_.end(),
                     [&](const Route& r) { return MatchRoute(r, path).has_value(); });
}

absl::StatusOr<std::string> Transcoder::BuildRequest(const RouteMatch& match,
                                                     const QueryParams& query,
                                                     absl::string_view body) const {
  const Route& route = *match.route;
  const auto* input = route.policy->descriptor->input_type();
  std::unique_ptr<Message> msg(
      google::protobuf::MessageFactory::generated_factory()->GetPrototype(input)->New());
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  const bool has_body = !absl::StripAsciiWhitespace(body).empty();
  if (route.body.empty()) {
    if (has_body) return InvalidArgumentField("body", "this method takes no body");
  } else if (has_body) {
    Message* target = msg.get();
    if (route.body != "*") {
      const FieldDescriptor* f = FindField(input, route.body);
      if (f == nullptr || f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) {
        return absl::InternalError("body field is not a message");
      }
      target = msg->GetReflection()->MutableMessage(msg.get(), f);
    }
    // Every field that cannot be read, named at once.
    Value parsed;
    if (google::protobuf::util::JsonStringToMessage(
            google::protobuf::StringPiece(body.data(), body.size()), &parsed).ok()) {
      std::vector<std::pair<std::string, std::string>> violations;
      CheckJson(target->GetDescriptor(), parsed, "", violations);
      if (!violations.empty()) return InvalidArgumentFields(violations);
    }
    const auto st = google::protobuf::util::JsonStringToMessage(
        google::protobuf::StringPiece(body.data(), body.size()), target, options);
    if (!st.ok()) {
      return InvalidArgumentField("body", absl::StrCat("is not valid JSON for ",
                                                       target->GetDescriptor()->name(), ": ",
                                                       st.message().as_string()));
    }
  }
  for (const auto& [key, value] : query) {
    if (route.body == "*") {
      return InvalidArgumentField(key, "this method takes its fields in the body");
    }
    // Names are echoed in errors: keep them short.
    const std::string name = key.size() > 64 ? key.substr(0, 64) + "…" : key;
    RETURN_IF_ERROR(SetFromText(msg.get(), key, value, name));
  }
  // Path variables win over anything the body or query said.
  for (const auto& [field, value] : match.bindings) {
    const FieldDescriptor* f = nullptr;
    Message* m = msg.get();
    std::vector<absl::string_view> parts = absl::StrSplit(field, '.');
    for (size_t i = 0; i < parts.size(); ++i) {
      f = FindField(m->GetDescriptor(), parts[i]);
      if (f == nullptr) return absl::InternalError("path variable names no field");
      if (i + 1 < parts.size()) m = m->GetReflection()->MutableMessage(m, f);
    }
    m->GetReflection()->SetString(m, f, value);
  }
  return msg->SerializeAsString();
}

absl::StatusOr<std::string> Transcoder::RenderResponse(const Route& route,
                                                       absl::string_view bytes) const {
  const auto* output = route.policy->descriptor->output_type();
  const bool cacheable = route.policy->backend == Backend::kGuidance;
  std::string key;
  if (cacheable) {
    key = absl::StrCat(output->full_name(), "|", bytes);
    absl::MutexLock lock(&cache_mu_);
    auto it = rendered_.find(key);
    if (it != rendered_.end()) return it->second;
  }
  std::unique_ptr<Message> msg(
      google::protobuf::MessageFactory::generated_factory()->GetPrototype(output)->New());
  if (!msg->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::InternalError("backend sent an unreadable response");
  }
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  const auto st = google::protobuf::util::MessageToJsonString(*msg, &json, options);
  if (!st.ok()) return absl::InternalError("response cannot be written as JSON");
  if (cacheable && key.size() + json.size() < kRenderCacheBytes / 16) {
    absl::MutexLock lock(&cache_mu_);
    if (rendered_bytes_ + key.size() + json.size() > kRenderCacheBytes) {
      rendered_.clear();
      rendered_bytes_ = 0;
    }
    if (rendered_.emplace(std::move(key), json).second) rendered_bytes_ += json.size() + bytes.size();
  }
  return json;
}

int HttpStatusForCode(int code) {
  switch (code) {
    case 0: return 200;
    case 1: return 499;   // CANCELLED
    case 2: return 500;   // UNKNOWN
    case 3: return 400;   // INVALID_ARGUMENT
    case 4: return 504;   // DEADLINE_EXCEEDED
    case 5: return 404;   // NOT_FOUND
    case 6: return 409;   // ALREADY_EXISTS
    case 7: return 403;   // PERMISSION_DENIED
    case 8: return 429;   // RESOURCE_EXHAUSTED
    case 9: return 400;   // FAILED_PRECONDITION
    case 10: return 409;  // ABORTED
    case 11: return 400;  // OUT_OF_RANGE
    case 12: return 501;  // UNIMPLEMENTED
    case 13: return 500;  // INTERNAL
    case 14: return 503;  // UNAVAILABLE
    case 15: return 500;  // DATA_LOSS
    case 16: return 401;  // UNAUTHENTICATED
    default: return 500;
  }
}

std::string RenderStatusJson(const google::rpc::Status& status) {
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(status, &json).ok()) {
    // A detail of a type this binary does not know: send code and message.
    google::rpc::Status plain;
    plain.set_code(status.code());
    plain.set_message(status.message());
    (void)google::protobuf::util::MessageToJsonString(plain, &json);
  }
  return json;
}

}  // namespace counsel::gateway

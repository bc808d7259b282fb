#include "case-svc/store/case_filter.h"

#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/dates.h"
#include "common/errors.h"
#include "counsel/cases/v1/cases.pb.h"
#include "google/protobuf/util/time_util.h"

namespace counsel::cases {
namespace {

constexpr char kFilterableFields[] =
    "state, severity, assignee, incident_type, suspected_source, external_ref, client.id, "
    "leaked_data, create_time, update_time, discovered_time, occurred_on, limitation_ends_on, "
    "overdue, labels.KEY, client.phone, client.national_id";

constexpr size_t kMaxFilterLength = 2000;
constexpr int kMaxDepth = 32;

struct Token {
  enum Kind { kWord, kString, kOp, kLParen, kRParen, kEnd } kind;
  std::string text;
  size_t pos;
};

class Parser {
 public:
  Parser(absl::string_view input, absl::Time now, const BlindIndexFn& blind)
      : in_(input), now_(now), blind_(blind) {}

  absl::StatusOr<SqlCondition> Parse() {
    if (absl::StripAsciiWhitespace(in_).empty()) return SqlCondition{};
    if (in_.size() > kMaxFilterLength) {
      return InvalidArgumentField("filter", "is longer than 2000 characters");
    }
    auto tokens = Lex();
    if (!tokens.ok()) return tokens.status();
    tokens_ = std::move(*tokens);
    SqlCondition out;
    auto sql = Or(0);
    if (!sql.ok()) return sql.status();
    if (Peek().kind != Token::kEnd) return Error(Peek().pos, "unexpected text");
    out.sql = *sql;
    out.params = std::move(params_);
    return out;
  }

 private:
  absl::Status Error(size_t pos, absl::string_view what) {
    return InvalidArgumentField("filter", absl::StrCat("at position ", pos, ": ", what));
  }

  absl::StatusOr<std::vector<Token>> Lex() {
    std::vector<Token> out;
    size_t i = 0;
    while (i < in_.size()) {
      const char c = in_[i];
      if (absl::ascii_isspace(static_cast<unsigned char>(c))) {
        ++i;
      } else if (c == '(') {
        out.push_back({Token::kLParen, "(", i++});
      } else if (c == ')') {
        out.push_back({Token::kRParen, ")", i++});
      } else if (c == '"') {
        const size_t start = i++;
        std::string s;
        while (i < in_.size() && in_[i] != '"') {
          if (in_[i] == '\\' && i + 1 < in_.size()) ++i;
          s.push_back(in_[i++]);
        }
        if (i >= in_.size()) return Error(start, "unterminated string");
        ++i;
        out.push_back({Token::kString, s, start});
      } else if (c == '=' || c == ':' || c == '<' || c == '>' || c == '!') {
        const size_t start = i;
        std::string op(1, c);
        if (i + 1 < in_.size() && in_[i + 1] == '=' && c != '=' && c != ':') op.push_back('=');
        if (op == "!") return Error(start, "expected != ");
        i += op.size();
        out.push_back({Token::kOp, op, start});
      } else {
        const size_t start = i;
        while (i < in_.size() && !absl::ascii_isspace(static_cast<unsigned char>(in_[i])) &&
               in_[i] != '(' && in_[i] != ')' && in_[i] != '=' && in_[i] != ':' &&
               in_[i] != '<' && in_[i] != '>' && in_[i] != '!' && in_[i] != '"') {
          ++i;
        }
        out.push_back({Token::kWord, std::string(in_.substr(start, i - start)), start});
      }
    }
    out.push_back({Token::kEnd, "", in_.size()});
    return out;
  }

  const Token& Peek() const { return tokens_[pos_]; }
  Token Next() { return tokens_[pos_ < tokens_.size() - 1 ? pos_++ : pos_]; }
  bool IsWord(const char* w) const { return Peek().kind == Token::kWord && Peek().text == w; }

  absl::StatusOr<std::string> Or(int depth) {
    auto left = And(depth);
    if (!left.ok()) return left;
    std::string sql = *left;
    while (IsWord("OR")) {
      Next();
      auto right = And(depth);
      if (!right.ok()) return right;
      sql = absl::StrCat("(", sql, " OR ", *right, ")");
    }
    return sql;
  }

  absl::StatusOr<std::string> And(int depth) {
    auto left = Unary(depth);
    if (!left.ok()) return left;
    std::string sql = *left;
    while (true) {
      if (IsWord("AND")) {
        Next();
      } else if (Peek().kind == Token::kEnd || Peek().kind == Token::kRParen || IsWord("OR")) {
        break;
      }  // else: juxtaposition is AND (AIP-160)
      auto right = Unary(depth);
      if (!right.ok()) return right;
      sql = absl::StrCat("(", sql, " AND ", *right, ")");
    }
    return sql;
  }

  absl::StatusOr<std::string> Unary(int depth) {
    if (depth > kMaxDepth) return Error(Peek().pos, "nested too deeply");
    if (IsWord("NOT") || (Peek().kind == Token::kWord && Peek().text == "-")) {
      Next();
      auto inner = Unary(depth + 1);
      if (!inner.ok()) return inner;
      return absl::StrCat("(NOT ", *inner, ")");
    }
    if (Peek().kind == Token::kLParen) {
      const size_t open = Next().pos;
      auto inner = Or(depth + 1);
      if (!inner.ok()) return inner;
      if (Peek().kind != Token::kRParen) return Error(open, "unclosed parenthesis");
      Next();
      return absl::StrCat("(", *inner, ")");
    }
    return Comparison();
  }

  absl::StatusOr<int> EnumValue(const google::protobuf::EnumDescriptor* e, const Token& t,
                                absl::string_view prefix) {
    const google::protobuf::EnumValueDescriptor* v = e->FindValueByName(t.text);
    if (v == nullptr) v = e->FindValueByName(absl::StrCat(prefix, t.text));
    if (v == nullptr || v->number() == 0) {
      return Error(t.pos, absl::StrCat("'", t.text, "' is not a value of ", e->name()));
    }
    return v->number();
  }

  absl::StatusOr<std::string> Comparison() {
    const Token field = Next();
    if (field.kind != Token::kWord) return Error(field.pos, "expected a field name");
    const Token op = Next();
    if (op.kind != Token::kOp) return Error(op.pos, "expected an operator (=, !=, <, <=, >, >=, :)");
    const Token value = Next();
    if (value.kind != Token::kWord && value.kind != Token::kString) {
      return Error(value.pos, "expected a value");
    }
    const std::string sql_op = op.text == ":" ? "=" : op.text;
    auto ordered = [&]() { return op.text != ":"; };
    auto equality = [&]() { return op.text == "=" || op.text == "!="; };
    const std::string& f = field.text;
    if (f == "state" || f == "severity") {
      if (!ordered()) return Error(op.pos, absl::StrCat("use = or a comparison with ", f));
      auto n = f == "state" ? EnumValue(v1::Case::State_descriptor(), value, "STATE_")
                            : EnumValue(v1::Severity_descriptor(), value, "SEVERITY_");
      if (!n.ok()) return n.status();
      params_.emplace_back(static_cast<int64_t>(*n));
      return absl::StrCat(f, " ", sql_op, " ?");
    }
    if (f == "assignee" || f == "incident_type" || f == "suspected_source") {
      if (!equality()) return Error(op.pos, absl::StrCat(f, " takes = or !="));
      params_.emplace_back(value.text);
      return absl::StrCat(f, " ", sql_op, " ?");
    }
    if (f == "external_ref" || f == "client.id") {
      // The CRM's own keys: find the case a record names in one call.
      if (!equality()) return Error(op.pos, absl::StrCat(f, " takes = or !="));
      params_.emplace_back(value.text);
      // Qualified: client_keys, joined by ListCases, has a client_id too.
      const std::string column = f == "client.id" ? "c.client_id" : "c.external_ref";
      return op.text == "="
                 ? absl::StrCat(column, " = ?")
                 : absl::StrCat("(", column, " IS NULL OR ", column, " != ?)");
    }
    if (f == "leaked_data") {
      if (op.text != ":" && op.text != "=") return Error(op.pos, "leaked_data takes :");
      auto n = EnumValue(v1::LeakedData_descriptor(), value, "LEAKED_DATA_");
      if (!n.ok()) return n.status();
      params_.emplace_back(int64_t{1} << *n);
      return "(leaked_mask & ?) != 0";
    }
    if (f == "create_time" || f == "update_time" || f == "discovered_time") {
      if (!ordered()) return Error(op.pos, absl::StrCat(f, " takes a comparison"));
      google::protobuf::Timestamp t;
      if (!google::protobuf::util::TimeUtil::FromString(value.text, &t)) {
        return Error(value.pos, "expected an RFC 3339 time, e.g. \"2026-01-01T00:00:00Z\"");
      }
      params_.emplace_back(google::protobuf::util::TimeUtil::TimestampToMicroseconds(t));
      // discovered_time may be unset: such a case matches no comparison.
      return f == "discovered_time"
                 ? absl::StrCat("(c.discovered_time IS NOT NULL AND c.discovered_time ", sql_op, " ?)")
                 : absl::StrCat(f, " ", sql_op, " ?");
    }
    if (f == "limitation_ends_on" || f == "occurred_on") {
      if (!ordered()) return Error(op.pos, absl::StrCat(f, " takes a comparison"));
      if (!ParseDate(value.text, "filter").ok()) return Error(value.pos, "expected YYYY-MM-DD");
      params_.emplace_back(value.text);
      const std::string column = absl::StrCat("c.", f);
      return absl::StrCat("(", column, " IS NOT NULL AND ", column, " ", sql_op, " ?)");
    }
    if (absl::StartsWith(f, "labels.")) {
      // AIP-160 maps: labels.KEY = value, != value, and labels.KEY:* (has the label).
      const std::string key = f.substr(7);
      if (key.empty()) return Error(field.pos, "name the label: labels.KEY");
      constexpr char kHas[] =
          "EXISTS (SELECT 1 FROM case_labels l WHERE l.tenant = c.tenant AND l.case_id = "
          "c.case_id AND l.key = ?";
      params_.emplace_back(key);
      if (op.text == ":" && value.kind == Token::kWord && value.text == "*") {
        return absl::StrCat(kHas, ")");
      }
      if (!equality()) return Error(op.pos, absl::StrCat(f, " takes =, != or :*"));
      params_.emplace_back(value.text);
      return absl::StrCat(op.text == "=" ? "" : "NOT ", kHas, " AND l.value = ?)");
    }
    if (f == "overdue") {
      if (!equality()) return Error(op.pos, "overdue takes = or !=");
      bool want;
      if (value.text == "true") want = true;
      else if (value.text == "false") want = false;
      else return Error(value.pos, "expected true or false");
      if (op.text == "!=") want = !want;
      params_.emplace_back(absl::ToUnixMicros(now_));
      return want ? "(next_due_time IS NOT NULL AND next_due_time < ?)"
                  : "(next_due_time IS NULL OR next_due_time >= ?)";
    }
    if (absl::StartsWith(f, "client.") && f != "client.id") {
      // Personal fields: comparing them is reading them.
      if (!blind_) {
        return absl::PermissionDeniedError(absl::StrCat(
            "filter: ", f, " is personal data; filtering on it needs the cases.pii scope"));
      }
      if (f != "client.phone" && f != "client.national_id") {
        return Error(field.pos, absl::StrCat("'", f, "' cannot be filtered (only client.phone "
                                                     "and client.national_id, by equality)"));
      }
      if (op.text != "=") return Error(op.pos, absl::StrCat(f, " takes = only"));
      auto index = blind_(f, value.text);
      if (!index.ok()) return Error(value.pos, absl::StrCat("not a valid ", f));
      params_.emplace_back(*index);
      return f == "client.phone" ? "phone_index = ?" : "national_id_index = ?";
    }
    return Error(field.pos, absl::StrCat("'", f, "' is not a field that can be filtered; these "
                                         "can: ", kFilterableFields));
  }

  absl::string_view in_;
  absl::Time now_;
  const BlindIndexFn& blind_;
  std::vector<Token> tokens_;
  size_t pos_ = 0;
  std::vector<SqlValue> params_;
};

}  // namespace

absl::StatusOr<SqlCondition> CompileCaseFilter(absl::string_view filter, absl::Time now,
                                               const BlindIndexFn& blind) {
  return Parser(filter, now, blind).Parse();
}

}  // namespace counsel::cases

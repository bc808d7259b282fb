#include "gateway/http/transcoder.h"

#include "absl/strings/str_cat.h"

#include "common/testing/status_matchers.h"
#include "counsel/cases/v1/cases.pb.h"
#include "counsel/guidance/v1/guidance.pb.h"
#include "google/rpc/error_details.pb.h"
#include "gateway/openapi/openapi.h"
#include "gtest/gtest.h"

namespace counsel::gateway {
namespace {

using ::counsel::testing::StatusIs;
using ::testing::HasSubstr;

class TranscoderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto t = Transcoder::Build();
    ASSERT_TRUE(t.ok()) << t.status();
    t_ = std::move(*t);
  }
  std::string MethodFor(const std::string& verb, const std::string& path) {
    auto m = t_->Find(verb, path);
    return m ? m->route->policy->descriptor->name() : "";
  }
  std::unique_ptr<Transcoder> t_;
};

TEST(PathTemplateTest, ParsesVariablesAndVerbs) {
  auto r = ParsePathTemplate("/v1/{name=statutes/*/provisions/*}");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->segments, (std::vector<std::string>{"v1", "statutes", "*", "provisions", "*"}));
  ASSERT_EQ(r->variables.size(), 1u);
  EXPECT_EQ(r->variables[0].begin, 1u);
  EXPECT_EQ(r->variables[0].end, 5u);
  auto v = ParsePathTemplate("/v1/{name=cases/*}:eraseClientData");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->verb, "eraseClientData");
  auto plain = ParsePathTemplate("/v1/citations:resolve");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->verb, "resolve");
  EXPECT_EQ(plain->segments, (std::vector<std::string>{"v1", "citations"}));
  EXPECT_FALSE(ParsePathTemplate("v1/x").ok());
  EXPECT_FALSE(ParsePathTemplate("/v1/{name=x").ok());
}

TEST_F(TranscoderTest, EveryRouteOfTheDesignMatchesItsMethod) {
  const std::vector<std::tuple<std::string, std::string, std::string>> cases = {
      {"GET", "/v1/statutes", "ListStatutes"},
      {"GET", "/v1/statutes/a-b", "GetStatute"},
      {"GET", "/v1/statutes/a/provisions/art_42", "GetProvision"},
      {"GET", "/v1/statutes/a/provisions", "ListProvisions"},
      {"GET", "/v1/statutes/a:compare", "CompareStatuteVersions"},
      {"POST", "/v1/citations:resolve", "ResolveCitations"},
      {"GET", "/v1/provisions:search", "SearchProvisions"},
      {"GET", "/v1/advice", "ListAdvice"},
      {"GET", "/v1/advice/x", "GetAdvice"},
      {"POST", "/v1/advice", "CreateAdvice"},
      {"PATCH", "/v1/advice/x", "UpdateAdvice"},
      {"POST", "/v1/advice/x:publish", "PublishAdvice"},
      {"GET", "/v1/advice/x:listRevisions", "ListAdviceRevisions"},
      {"POST", "/v1/advice/x:rollback", "RollbackAdvice"},
      {"DELETE", "/v1/advice/x", "DeleteAdvice"},
      {"POST", "/v1/cases", "CreateCase"},
      {"GET", "/v1/cases/abc", "GetCase"},
      {"GET", "/v1/cases", "ListCases"},
      {"PATCH", "/v1/cases/abc", "UpdateCase"},
      {"POST", "/v1/cases/abc:transition", "TransitionCase"},
      {"PATCH", "/v1/cases/abc/checklist/k", "UpdateChecklistItem"},
      {"POST", "/v1/cases/abc/evidence", "AddEvidence"},
      {"GET", "/v1/cases/abc/evidence", "ListEvidence"},
      {"POST", "/v1/cases/abc/notes", "AddNote"},
      {"GET", "/v1/cases/abc/events", "ListCaseEvents"},
      {"GET", "/v1/changes", "ListChanges"},
      {"GET", "/v1/changes:watch", "WatchChanges"},
      {"GET", "/v1/cases:stats", "GetCaseStats"},
      {"POST", "/v1/cases/abc:eraseClientData", "EraseClientData"},
      {"POST", "/v1/audit:verify", "VerifyAuditLog"},
      {"GET", "/v1/cases/abc:brief", "GetCaseBrief"},
  };
  for (const auto& [verb, path, method] : cases) {
    EXPECT_EQ(MethodFor(verb, path), method) << verb << " " << path;
  }
  EXPECT_EQ(MethodFor("GET", "/v1/nothing"), "");
  EXPECT_EQ(MethodFor("PUT", "/v1/cases/abc"), "");
  EXPECT_TRUE(t_->PathExists("/v1/cases/abc"));
  EXPECT_FALSE(t_->PathExists("/v2/cases"));
}

TEST_F(TranscoderTest, BuildsRequestsFromPathQueryAndBody) {
  auto m = t_->Find("GET", "/v1/statutes/x/provisions/art_42");
  ASSERT_TRUE(m);
  auto bytes = t_->BuildRequest(*m, {{"asOf", "2020-01-01"}, {"prospective", "true"}}, "");
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  guidance::v1::GetProvisionRequest req;
  ASSERT_TRUE(req.ParseFromString(*bytes));
  EXPECT_EQ(req.name(), "statutes/x/provisions/art_42");
  EXPECT_EQ(req.as_of(), "2020-01-01");
  EXPECT_TRUE(req.prospective());

  auto create = t_->Find("POST", "/v1/cases");
  ASSERT_TRUE(create);
  auto cbytes = t_->BuildRequest(
      *create, {{"requestId", "r1"}},
      R"({"client":{"displayName":"张三","phone":"13812345678"},"leaked_data":["LEAKED_DATA_PHONE"]})");
  ASSERT_TRUE(cbytes.ok()) << cbytes.status();
  cases::v1::CreateCaseRequest creq;
  ASSERT_TRUE(creq.ParseFromString(*cbytes));
  EXPECT_EQ(creq.request_id(), "r1");
  EXPECT_EQ(creq.case_().client().display_name(), "张三");
  ASSERT_EQ(creq.case_().leaked_data_size(), 1);

  auto patch = t_->Find("PATCH", "/v1/cases/abc");
  auto pbytes = t_->BuildRequest(*patch, {{"updateMask", "summary,assignee"}},
                                 R"({"name":"cases/other","summary":"s"})");
  ASSERT_TRUE(pbytes.ok()) << pbytes.status();
  cases::v1::UpdateCaseRequest preq;
  ASSERT_TRUE(preq.ParseFromString(*pbytes));
  EXPECT_EQ(preq.case_().name(), "cases/abc") << "the path wins over the body";
  EXPECT_EQ(preq.update_mask().paths_size(), 2);

  auto list = t_->Find("GET", "/v1/statutes");
  auto lbytes = t_->BuildRequest(*list, {{"status", "IN_FORCE"}, {"page_size", "2"}}, "");
  ASSERT_TRUE(lbytes.ok()) << lbytes.status();
  guidance::v1::ListStatutesRequest lreq;
  ASSERT_TRUE(lreq.ParseFromString(*lbytes));
  EXPECT_EQ(lreq.status(), guidance::v1::StatuteVersion::STATUS_IN_FORCE);
  EXPECT_EQ(lreq.page_size(), 2);
}

TEST_F(TranscoderTest, BadInputNamesTheParameter) {
  auto list = t_->Find("GET", "/v1/statutes");
  EXPECT_THAT(t_->BuildRequest(*list, {{"pageSize", "many"}}, ""),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("pageSize")));
  EXPECT_THAT(t_->BuildRequest(*list, {{"bogus", "1"}}, ""),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("bogus")));
  EXPECT_THAT(t_->BuildRequest(*list, {{"status", "SOMETIMES"}}, ""),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("status")));
  EXPECT_THAT(t_->BuildRequest(*list, {}, "{}"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("body")));
  auto create = t_->Find("POST", "/v1/cases");
  EXPECT_THAT(t_->BuildRequest(*create, {}, "{not json"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("body")));
  // An unknown field is named itself, with every other bad field.
  EXPECT_THAT(t_->BuildRequest(*create, {}, R"({"unknownField":1})"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unknownField")));
  auto resolve = t_->Find("POST", "/v1/citations:resolve");
  EXPECT_THAT(t_->BuildRequest(*resolve, {{"text", "x"}}, R"({"text":"y"})"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("text")));
}

TEST_F(TranscoderTest, PathVariablesArePercentDecoded) {
  auto m = t_->Find("GET", "/v1/statutes/x/provisions/art%5F42");
  ASSERT_TRUE(m);
  guidance::v1::GetProvisionRequest req;
  ASSERT_TRUE(req.ParseFromString(*t_->BuildRequest(*m, {}, "")));
  EXPECT_EQ(req.name(), "statutes/x/provisions/art_42");
  EXPECT_FALSE(t_->Find("GET", "/v1/statutes/x/provisions/art%zz"));
}

TEST_F(TranscoderTest, OpenApiDocumentListsEveryRoute) {
  const std::string doc = kOpenApiJson;
  for (const Route& r : t_->routes()) {
    const std::string id = absl::StrCat("\"", r.policy->descriptor->service()->name(), "_",
                                        r.policy->descriptor->name(), "\"");
    EXPECT_NE(doc.find(id), std::string::npos) << r.pattern;
  }
  EXPECT_NE(doc.find("\"openapi\": \"3.0.3\""), std::string::npos);
  EXPECT_NE(doc.find("\"securitySchemes\""), std::string::npos);
}

TEST(HttpStatusTest, StandardMapping) {
  const std::vector<std::pair<int, int>> expected = {
      {0, 200}, {1, 499}, {2, 500},  {3, 400},  {4, 504},  {5, 404},  {6, 409},  {7, 403}, {8, 429},
      {9, 400}, {10, 409}, {11, 400}, {12, 501}, {13, 500}, {14, 503}, {15, 500}, {16, 401}};
  for (const auto& [code, http] : expected) EXPECT_EQ(HttpStatusForCode(code), http) << code;
}

TEST(RenderStatusTest, DetailsBecomeTypedJson) {
  google::rpc::Status s;
  s.set_code(3);
  s.set_message("bad");
  google::rpc::BadRequest bad;
  bad.add_field_violations()->set_field("case.client.phone");
  s.add_details()->PackFrom(bad);
  const std::string json = RenderStatusJson(s);
  EXPECT_NE(json.find("\"@type\":\"type.googleapis.com/google.rpc.BadRequest\""), std::string::npos)
      << json;
  EXPECT_NE(json.find("case.client.phone"), std::string::npos);
}


TEST_F(TranscoderTest, RenderedGuidanceAnswersAreKeptByTheirExactBytes) {
  auto match = t_->Find("GET", "/v1/statutes/x/provisions/art_42");
  ASSERT_TRUE(match);
  guidance::v1::Provision a, b;
  a.set_name("statutes/x/provisions/art_42");
  a.set_text("第四十二条 甲");
  b = a;
  b.set_text("第四十二条 乙");
  const std::string first = *t_->RenderResponse(*match->route, a.SerializeAsString());
  // A second time from the cache, and other bytes never get its answer.
  EXPECT_EQ(*t_->RenderResponse(*match->route, a.SerializeAsString()), first);
  const std::string other = *t_->RenderResponse(*match->route, b.SerializeAsString());
  EXPECT_NE(other, first);
  EXPECT_NE(other.find("乙"), std::string::npos);
  // Many distinct answers: the cache empties itself and stays right.
  for (int i = 0; i < 3000; ++i) {
    guidance::v1::Provision p = a;
    p.set_text(std::string(4000, 'a' + i % 26) + std::to_string(i));
    auto json = t_->RenderResponse(*match->route, p.SerializeAsString());
    ASSERT_NE(json->find(std::to_string(i) + "\""), std::string::npos);
  }
  EXPECT_EQ(*t_->RenderResponse(*match->route, a.SerializeAsString()), first);
}

}  // namespace
}  // namespace counsel::gateway

#include "gateway/http/multipart.h"

#include "gtest/gtest.h"

namespace counsel::gateway {
namespace {

struct Form {
  std::vector<MultipartPart> parts;
  std::vector<std::string> data;  // one per part
  absl::Status status;
};

// Feeds `body` in pieces of `step` bytes and collects what comes out.
Form Read(const std::string& body, size_t step, const std::string& boundary = "XyZ") {
  MultipartReader reader(boundary);
  Form form;
  bool open = false;
  for (size_t i = 0; i < body.size(); i += step) {
    auto events = reader.Feed(absl::string_view(body).substr(i, step));
    if (!events.ok()) {
      form.status = events.status();
      return form;
    }
    for (auto& e : *events) {
      switch (e.kind) {
        case MultipartEvent::Kind::kPartStart:
          EXPECT_FALSE(open);
          open = true;
          form.parts.push_back(e.part);
          form.data.emplace_back();
          break;
        case MultipartEvent::Kind::kData:
          EXPECT_TRUE(open);
          form.data.back() += e.data;
          break;
        case MultipartEvent::Kind::kPartEnd:
          EXPECT_TRUE(open);
          open = false;
          break;
      }
    }
  }
  form.status = reader.Finish();
  return form;
}

const std::string kCurlForm =
    "--XyZ\r\n"
    "Content-Disposition: form-data; name=\"file\"; filename=\"shot.png\"\r\n"
    "Content-Type: image/png\r\n"
    "\r\n"
    "\x89PNG\r\n--XyNotIt\r\n--X\r\n"
    "\r\n--XyZ\r\n"
    "Content-Disposition: form-data; name=\"evidence\"\r\n"
    "\r\n"
    "{\"kind\":\"KIND_SCREENSHOT\"}\r\n"
    "--XyZ--\r\n";

TEST(MultipartTest, ReadsPartsWhateverThePieceSize) {
  for (size_t step : {1, 2, 3, 7, 64, 10000}) {
    Form form = Read(kCurlForm, step);
    ASSERT_TRUE(form.status.ok()) << step << " " << form.status;
    ASSERT_EQ(form.parts.size(), 2u) << step;
    EXPECT_EQ(form.parts[0].name, "file");
    EXPECT_TRUE(form.parts[0].has_filename);
    EXPECT_EQ(form.parts[0].filename, "shot.png");
    EXPECT_EQ(form.parts[0].content_type, "image/png");
    // Bytes that look like a boundary but are not one stay in the data.
    EXPECT_EQ(form.data[0], "\x89PNG\r\n--XyNotIt\r\n--X\r\n") << step;
    EXPECT_EQ(form.parts[1].name, "evidence");
    EXPECT_FALSE(form.parts[1].has_filename);
    EXPECT_EQ(form.data[1], "{\"kind\":\"KIND_SCREENSHOT\"}");
  }
}

TEST(MultipartTest, PreambleEpilogueAndEncodedNames) {
  const std::string body =
      "ignored preamble\r\n--XyZ  \r\n"
      "content-disposition: form-data; name=file; filename*=UTF-8''%E6%88%AA%E5%9B%BE.png\r\n"
      "\r\n"
      "\r\n--XyZ--trailing epilogue";
  Form form = Read(body, 5);
  ASSERT_TRUE(form.status.ok()) << form.status;
  ASSERT_EQ(form.parts.size(), 1u);
  EXPECT_EQ(form.parts[0].filename, "截图.png");
  EXPECT_EQ(form.data[0], "");
}

TEST(MultipartTest, RefusesMalformedForms) {
  // No closing boundary.
  EXPECT_FALSE(Read("--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\nxx", 4).status.ok());
  // A part without a name.
  Form f = Read("--XyZ\r\nContent-Disposition: form-data\r\n\r\nx\r\n--XyZ--", 4);
  EXPECT_EQ(f.status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(f.status.message().find("multipart"), std::string::npos);
  // Not form-data.
  EXPECT_FALSE(Read("--XyZ\r\nContent-Disposition: attachment; name=a\r\n\r\nx\r\n--XyZ--", 4)
                   .status.ok());
  // Headers beyond the limit.
  EXPECT_FALSE(Read("--XyZ\r\nX: " + std::string(9000, 'a'), 100).status.ok());
  // Too many parts.
  std::string many;
  for (int i = 0; i < 20; ++i) many += "--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\nx\r\n";
  EXPECT_FALSE(Read(many + "--XyZ--", 50).status.ok());
  // Nothing at all.
  EXPECT_FALSE(Read("", 1).status.ok());
}

TEST(MultipartTest, BoundaryFromContentType) {
  EXPECT_EQ(*MultipartBoundary("multipart/form-data; boundary=------abc"), "------abc");
  EXPECT_EQ(*MultipartBoundary("Multipart/Form-Data;boundary=\"a b\""), "a b");
  EXPECT_FALSE(MultipartBoundary("multipart/form-data").ok());
  EXPECT_FALSE(MultipartBoundary("application/json; boundary=x").ok());
  EXPECT_FALSE(MultipartBoundary("multipart/form-data; boundary=" + std::string(71, 'a')).ok());
}

}  // namespace
}  // namespace counsel::gateway

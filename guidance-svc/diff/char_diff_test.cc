#include "guidance-svc/diff/char_diff.h"

#include "gtest/gtest.h"

namespace counsel::guidance {
namespace {

std::string Render(const std::vector<DiffOp>& ops) {
  std::string out;
  for (const auto& op : ops) {
    out += op.kind == DiffOp::kEqual ? "=" : op.kind == DiffOp::kInsert ? "+" : "-";
    out += op.text + "|";
  }
  return out;
}

TEST(CharDiffTest, FindsTheFineChange) {
  EXPECT_EQ(Render(CharDiff("处五百元以下罚款", "处一千元以下罚款", {})),
            "=处|-五百|+一千|=元以下罚款|");
}

TEST(CharDiffTest, PunctuationWidthIsEqualUnlessStrict) {
  EXPECT_TRUE(TextsEqual("罚款:", "罚款：", {}));
  EXPECT_FALSE(TextsEqual("罚款:", "罚款：", {.strict_punctuation = true}));
  EXPECT_EQ(Render(CharDiff("甲;乙", "甲；乙", {})), "=甲；乙|");
  EXPECT_EQ(Render(CharDiff("甲;乙", "甲；乙", {.strict_punctuation = true})), "=甲|-;|+；|=乙|");
}

TEST(CharDiffTest, HandlesEmptyAndDisjointTexts) {
  EXPECT_EQ(Render(CharDiff("", "新", {})), "+新|");
  EXPECT_EQ(Render(CharDiff("旧", "", {})), "-旧|");
  EXPECT_EQ(Render(CharDiff("", "", {})), "");
  EXPECT_EQ(Render(CharDiff("甲乙", "丙丁", {})), "-甲乙|+丙丁|");
}

TEST(CharDiffTest, ApplyingTheDiffRebuildsBothTexts) {
  const std::string a = "有下列行为之一的，处五日以下拘留或者五百元以下罚款";
  const std::string b = "有下列行为之一的，处五日以下拘留或者一千元以下罚款；情节较重的";
  std::string from, to;
  for (const auto& op : CharDiff(a, b, {.strict_punctuation = true})) {
    if (op.kind != DiffOp::kInsert) from += op.text;
    if (op.kind != DiffOp::kDelete) to += op.text;
  }
  EXPECT_EQ(from, a);
  EXPECT_EQ(to, b);
}

}  // namespace
}  // namespace counsel::guidance

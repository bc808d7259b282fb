#include "gateway/http/watch_fanout.h"

#include "gtest/gtest.h"

namespace counsel::gateway {
namespace {

std::shared_ptr<const FeedFrame> Change(int64_t seq) {
  auto f = std::make_shared<FeedFrame>();
  f->seq = seq;
  return f;
}

std::shared_ptr<const FeedFrame> Bookmark(int64_t seq) {
  auto f = std::make_shared<FeedFrame>();
  f->seq = seq;
  f->bookmark = true;
  return f;
}

std::vector<int64_t> Seqs(const FeedStitch::Frames& frames) {
  std::vector<int64_t> out;
  for (const auto& f : frames) out.push_back(f->seq);
  return out;
}

TEST(FeedStitchTest, FromNowTakesEveryFrame) {
  FeedStitch s(-1);
  EXPECT_FALSE(s.catching_up());
  FeedStitch::Frames send;
  EXPECT_TRUE(s.Shared(Change(7), &send));
  EXPECT_TRUE(s.Shared(Bookmark(7), &send));
  EXPECT_TRUE(s.Shared(Change(9), &send));
  EXPECT_EQ(Seqs(send), (std::vector<int64_t>{7, 7, 9}));
}

TEST(FeedStitchTest, OverlapBetweenCatchUpAndSharedFramesIsSentOnce) {
  // Resuming after 10: the shared stream delivers 12..15 while the
  // catch-up pages read 11..14 (12..14 in both).
  FeedStitch s(10);
  FeedStitch::Frames send;
  for (int64_t seq : {12, 13}) ASSERT_TRUE(s.Shared(Change(seq), &send));
  EXPECT_TRUE(send.empty());
  s.Page({Change(11), Change(12)}, false, &send);
  ASSERT_TRUE(s.Shared(Change(14), &send));
  ASSERT_TRUE(s.Shared(Bookmark(14), &send));
  ASSERT_TRUE(s.Shared(Change(15), &send));
  s.Page({Change(13), Change(14)}, true, &send);
  EXPECT_FALSE(s.catching_up());
  ASSERT_TRUE(s.Shared(Change(16), &send));
  EXPECT_EQ(Seqs(send), (std::vector<int64_t>{11, 12, 13, 14, 14, 15, 16}));
}

TEST(FeedStitchTest, ASharedStreamBehindTheCursorRepeatsNothing) {
  // The shared stream lags: it still delivers changes up to 20 after the
  // watcher resumed from 20.
  FeedStitch s(20);
  FeedStitch::Frames send;
  for (int64_t seq : {18, 19, 20}) ASSERT_TRUE(s.Shared(Change(seq), &send));
  s.Page({}, true, &send);
  ASSERT_TRUE(s.Shared(Bookmark(19), &send));  // an older bookmark: not sent
  ASSERT_TRUE(s.Shared(Change(21), &send));
  EXPECT_EQ(Seqs(send), (std::vector<int64_t>{21}));
}

TEST(FeedStitchTest, TooMuchKeptWhileCatchingUpIsRefused) {
  FeedStitch s(0);
  FeedStitch::Frames send;
  for (size_t i = 0; i < FeedStitch::kMaxPending; ++i) {
    ASSERT_TRUE(s.Shared(Change(static_cast<int64_t>(i) + 1), &send));
  }
  EXPECT_FALSE(s.Shared(Change(1 << 20), &send));
}

}  // namespace
}  // namespace counsel::gateway

// callback_test.cpp - UniqueFunction (inline and heap storage, move-only state) and
// AwaitCallback (answers from other threads, dropped callbacks).
#include "common/callback.hpp"

#include <gtest/gtest.h>

#include <array>
#include <memory>
#include <string>
#include <thread>

namespace mltf {
namespace {

/// Counts live copies, to check that storage is destroyed exactly once.
struct Tracked {
  explicit Tracked(int* live) : live_(live) { ++*live_; }
  Tracked(Tracked&& other) noexcept : live_(other.live_) { ++*live_; }
  Tracked(const Tracked&) = delete;
  Tracked& operator=(const Tracked&) = delete;
  Tracked& operator=(Tracked&&) = delete;
  ~Tracked() { --*live_; }
  int* live_;
};

TEST(UniqueFunction, HoldsMoveOnlyCallables) {
  auto owned = std::make_unique<int>(41);
  UniqueFunction<int(int)> add = [owned = std::move(owned)](int delta) { return *owned + delta; };
  ASSERT_TRUE(add);
  EXPECT_EQ(add(1), 42);
  UniqueFunction<int(int)> moved = std::move(add);
  EXPECT_FALSE(add);  // NOLINT(bugprone-use-after-move): moved-from is empty by contract
  EXPECT_EQ(moved(2), 43);
}

TEST(UniqueFunction, DestroysSmallAndLargeCallablesOnce) {
  int live = 0;
  {
    UniqueFunction<void()> small = [tracked = Tracked(&live)] {};
    std::array<char, 256> padding{};
    UniqueFunction<void()> large = [tracked = Tracked(&live), padding] { (void)padding; };
    EXPECT_EQ(live, 2);
    UniqueFunction<void()> small_moved = std::move(small);
    UniqueFunction<void()> large_moved = std::move(large);
    EXPECT_EQ(live, 2);
    large_moved = std::move(small_moved);  // destroys the large one
    EXPECT_EQ(live, 1);
  }
  EXPECT_EQ(live, 0);
}

TEST(UniqueFunction, EmptyByDefaultAndFromNull) {
  UniqueFunction<void()> empty;
  UniqueFunction<void()> null = nullptr;
  EXPECT_FALSE(empty);
  EXPECT_FALSE(null);
}

TEST(AwaitCallback, ReturnsWhatTheCallbackGetsFromAnotherThread) {
  std::jthread answering;
  auto answer = AwaitCallback<std::string>([&](Callback<std::string> done) {
    answering = std::jthread([done = std::move(done)]() mutable { done(std::string("ok")); });
  });
  ASSERT_TRUE(answer);
  EXPECT_EQ(*answer, "ok");
}

TEST(AwaitCallback, AnswersAnErrorAtOnce) {
  auto answer =
      AwaitCallback<void>([](Callback<void> done) { done(Fail(Error::InvalidParameter("bad"))); });
  ASSERT_FALSE(answer);
  EXPECT_EQ(answer.error().code, ErrorCode::INVALID_PARAMETER_VALUE);
}

TEST(AwaitCallback, ADroppedCallbackIsAnInternalErrorNotAHang) {
  auto answer =
      AwaitCallback<int>([](Callback<int> done) { Callback<int> dropped = std::move(done); });
  ASSERT_FALSE(answer);
  EXPECT_EQ(answer.error().code, ErrorCode::INTERNAL_ERROR);
}

}  // namespace
}  // namespace mltf

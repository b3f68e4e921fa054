// ids.cpp - run ids and generated run names.
#include "common/ids.hpp"

#include <fmt/format.h>

#include <array>
#include <chrono>
#include <random>
#include <string_view>

namespace mltf {
namespace {

std::mt19937_64& ThreadRandom() {
  thread_local std::mt19937_64 engine = [] {
    std::random_device device;
    std::seed_seq seed{device(), device(), device(), device(), device(), device()};
    return std::mt19937_64(seed);
  }();
  return engine;
}

constexpr std::array<std::string_view, 48> kAdjectives = {
    "agile",  "amber",   "ancient", "bold",   "brave", "bright", "calm",   "clever",
    "cosmic", "crisp",   "curious", "daring", "deep",  "eager",  "fast",   "fierce",
    "gentle", "glowing", "golden",  "grand",  "happy", "hidden", "honest", "humble",
    "jolly",  "keen",    "kind",    "lively", "lucky", "mellow", "merry",  "mighty",
    "nimble", "noble",   "polite",  "proud",  "quick", "quiet",  "rapid",  "silent",
    "smooth", "steady",  "sturdy",  "sunny",  "swift", "tidy",   "vivid",  "wise"};
constexpr std::array<std::string_view, 48> kAnimals = {
    "ant",   "badger", "bat",   "bear", "bee",   "bison", "boar",  "carp",   "cat",   "crab",
    "crane", "crow",   "deer",  "dove", "eagle", "eel",   "elk",   "falcon", "finch", "fox",
    "frog",  "goat",   "hare",  "hawk", "heron", "horse", "ibis",  "koala",  "lark",  "lion",
    "lynx",  "mole",   "moth",  "newt", "otter", "owl",   "panda", "quail",  "robin", "seal",
    "shrew", "snail",  "stork", "swan", "tiger", "toad",  "whale", "wolf"};

}  // namespace

std::string NewRunId() {
  auto& engine = ThreadRandom();
  std::uint64_t high = engine();
  std::uint64_t low = engine();
  // Version 4, variant 1 bits, as uuid4().hex.
  high = (high & 0xFFFFFFFFFFFF0FFFULL) | 0x0000000000004000ULL;
  low = (low & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;
  return fmt::format("{:016x}{:016x}", high, low);
}

std::string RandomRunName() {
  auto& engine = ThreadRandom();
  std::uniform_int_distribution<std::size_t> adjective(0, kAdjectives.size() - 1);
  std::uniform_int_distribution<std::size_t> animal(0, kAnimals.size() - 1);
  std::uniform_int_distribution<int> number(0, 999);
  return fmt::format("{}-{}-{}", kAdjectives[adjective(engine)], kAnimals[animal(engine)],
                     number(engine));
}

std::int64_t NowMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace mltf

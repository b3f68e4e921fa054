// system_metrics_test.cpp - the system metrics readers on recorded /proc text (CPU delta,
// meminfo, net/dev), MLflow's names with and without a node id, a sampler reading a fake /proc,
// NVML missing (no GPU metrics), and the reporter's thread: periodic samples, a prompt last
// sample when stopped, one note for failed sends.
#include "runner/system_metrics.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gateway/executors/attempt_description.hpp"
#include "runner/gpu_metrics.hpp"

namespace mltf::runner {
namespace {

namespace fs = std::filesystem;
using client::MetricValue;

constexpr const char* kProcStat =
    "cpu  100 20 30 800 50 0 0 0 7 0\n"
    "cpu0 50 10 15 400 25 0 0 0 7 0\n"
    "intr 12345\n";
constexpr const char* kProcStatLater =
    "cpu  160 20 50 850 70 0 0 0 9 0\n"
    "cpu0 80 10 25 425 35 0 0 0 9 0\n";

constexpr const char* kMemInfo =
    "MemTotal:        2000000 kB\n"
    "MemFree:          300000 kB\n"
    "MemAvailable:     500000 kB\n"
    "Buffers:           10000 kB\n"
    "Cached:           100000 kB\n";

constexpr const char* kNetDev =
    "Inter-|   Receive                                                |  Transmit\n"
    " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs "
    "drop fifo colls carrier compressed\n"
    "    lo: 9000000  100    0    0    0     0          0         0 9000000  100    0    0    0  "
    "   0       0          0\n"
    "  eth0: 1000000  10    0    0    0     0          0         0 2000000  20    0    0    0  "
    "   0       0          0\n"
    "  ib0:3000000  30    0    0    0     0          0         0 4000000  40    0    0    0  "
    "   0       0          0\n";

TEST(ParseProcStat, SumsUserToStealAndCountsIowaitAsIdle) {
  const auto times = ParseProcStat(kProcStat);
  ASSERT_TRUE(times);
  EXPECT_EQ(times->total, 1000U);  // guest (7) is in user already
  EXPECT_EQ(times->busy, 150U);    // all but idle 800 and iowait 50
}

TEST(ParseProcStat, RefusesMissingOrMalformedLines) {
  EXPECT_FALSE(ParseProcStat(""));
  EXPECT_FALSE(ParseProcStat("cpu0 1 2 3 4\n"));
  EXPECT_FALSE(ParseProcStat("cpu 1 2 3\n"));
  EXPECT_FALSE(ParseProcStat("cpu 1 2 x 4\n"));
  const auto oldest_kernel = ParseProcStat("cpu 1 2 3 4\n");
  ASSERT_TRUE(oldest_kernel);
  EXPECT_EQ(oldest_kernel->total, 10U);
  EXPECT_EQ(oldest_kernel->busy, 6U);
}

TEST(CpuUtilizationPercent, IsTheBusyShareOfTheTimeBetweenTwoReadings) {
  const auto before = ParseProcStat(kProcStat);
  const auto after = ParseProcStat(kProcStatLater);
  ASSERT_TRUE(before && after);
  // total 1000 -> 1150, busy 150 -> 230: 80 of 150 ticks.
  EXPECT_NEAR(CpuUtilizationPercent(*before, *after), 80.0 / 150.0 * 100, 1e-9);
  EXPECT_EQ(CpuUtilizationPercent(*before, *before), 0);  // no time passed
  EXPECT_EQ(CpuUtilizationPercent(*after, *before), 0);   // counters went backwards
}

TEST(ParseMemInfo, ReadsTotalAndAvailableInBytes) {
  const auto memory = ParseMemInfo(kMemInfo);
  ASSERT_TRUE(memory);
  EXPECT_EQ(memory->total_bytes, 2000000ULL * 1024);
  EXPECT_EQ(memory->available_bytes, 500000ULL * 1024);
}

TEST(ParseMemInfo, WithoutMemAvailableCountsFreeAndCaches) {
  const auto memory = ParseMemInfo(
      "MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 20 kB\nCached: 30 kB\nSwapCached: 5 kB\n");
  ASSERT_TRUE(memory);
  EXPECT_EQ(memory->available_bytes, 150ULL * 1024);
  EXPECT_FALSE(ParseMemInfo("MemFree: 100 kB\n"));
  EXPECT_FALSE(ParseMemInfo("MemTotal: 1000 kB\n"));
  EXPECT_FALSE(ParseMemInfo("garbage"));
}

TEST(ParseNetDev, SumsEveryInterfaceButLoopback) {
  const auto totals = ParseNetDev(kNetDev);
  ASSERT_TRUE(totals);
  EXPECT_EQ(totals->received_bytes, 4000000U);  // eth0 + ib0 (no space after its colon)
  EXPECT_EQ(totals->transmitted_bytes, 6000000U);
}

TEST(ParseNetDev, OnlyLoopbackIsZeroAndNoInterfaceIsNothing) {
  const auto only_lo = ParseNetDev(
      "    lo: 9000000  100    0    0    0     0          0         0 9000000  100    0    0    "
      "0     0       0          0\n");
  ASSERT_TRUE(only_lo);
  EXPECT_EQ(only_lo->received_bytes, 0U);
  EXPECT_FALSE(ParseNetDev("Inter-|   Receive\n face |bytes\n"));
  EXPECT_FALSE(ParseNetDev("  eth0: 1 2 3\n"));
}

TEST(SystemMetricKey, AddsTheNodeIdOnlyWhenThereIsOne) {
  EXPECT_EQ(SystemMetricKey("", "cpu_utilization_percentage"), "system/cpu_utilization_percentage");
  EXPECT_EQ(SystemMetricKey("node1", "gpu_0_utilization_percentage"),
            "system/node1/gpu_0_utilization_percentage");
  EXPECT_EQ(SystemMetricsNodeId(0, 1), "");
  EXPECT_EQ(SystemMetricsNodeId(0, 2), "node0");
  EXPECT_EQ(SystemMetricsNodeId(3, 4), "node3");
}

TEST(VisibleGpuIndices, KeepsIndicesOnly) {
  EXPECT_EQ(VisibleGpuIndices(""), std::vector<int>{});
  EXPECT_EQ(VisibleGpuIndices("0"), std::vector<int>{0});
  EXPECT_EQ(VisibleGpuIndices("2, 0"), (std::vector<int>{2, 0}));
  EXPECT_EQ(VisibleGpuIndices("GPU-8f6a,1,-1,x"), std::vector<int>{1});
}

TEST(GpuMetricsReader, NoGpusGivenLoadsNothing) {
  const GpuMetricsReader reader({}, "libmltf-no-such-nvml.so");
  EXPECT_TRUE(reader.Read().empty());
  EXPECT_EQ(reader.status(), "no GPUs given");
}

TEST(GpuMetricsReader, WithoutADriverReadsNothing) {
  // Declared fake GPUs on a host without NVML: CUDA_VISIBLE_DEVICES names them, NVML is absent.
  const GpuMetricsReader missing({0, 1}, "libmltf-no-such-nvml.so");
  EXPECT_TRUE(missing.Read().empty());
  EXPECT_EQ(missing.status().rfind("no NVML: ", 0), 0U) << missing.status();

  const GpuMetricsReader not_nvml({0}, "libc.so.6");
  EXPECT_TRUE(not_nvml.Read().empty());
  EXPECT_EQ(not_nvml.status(), "no NVML: libc.so.6 has no symbol nvmlInit_v2");
}

/// A /proc of recorded files in a fresh directory, removed at the end.
class FakeProc {
 public:
  FakeProc()
      : root_(fs::temp_directory_path() /
              ("mltf-system-metrics-test-" + std::to_string(::getpid()))) {
    fs::create_directories(root_ / "net");
  }
  ~FakeProc() {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  FakeProc(const FakeProc&) = delete;
  FakeProc& operator=(const FakeProc&) = delete;

  void Write(const std::string& name, const std::string& text) const {
    std::ofstream(root_ / name) << text;
  }
  [[nodiscard]] const fs::path& root() const { return root_; }

 private:
  fs::path root_;
};

std::map<std::string, double> ByKey(const std::vector<MetricValue>& sample) {
  std::map<std::string, double> values;
  for (const auto& metric : sample) values[metric.key] = metric.value;
  return values;
}

TEST(SystemMetricsSampler, NamesScalesAndStepsAsMlflow) {
  FakeProc proc;
  proc.Write("stat", kProcStat);
  proc.Write("meminfo", kMemInfo);
  proc.Write("net/dev", kNetDev);
  SystemMetricsSampler sampler(
      {.proc_root = proc.root(), .disk_path = proc.root(), .nvml_library = "libmltf-no-such.so"},
      "");

  proc.Write("stat", kProcStatLater);
  proc.Write("net/dev",
             "  eth0: 1500000  10    0    0    0     0          0         0 2250000  20    0    0 "
             "   0     0       0          0\n"
             "  ib0:3000000  30    0    0    0     0          0         0 4000000  40    0    0  "
             "  0     0       0          0\n");
  const auto first = sampler.Sample(1234);
  ASSERT_FALSE(first.empty());
  for (const auto& metric : first) {
    EXPECT_EQ(metric.step, 0) << metric.key;
    EXPECT_EQ(metric.timestamp_ms, 1234) << metric.key;
  }
  auto values = ByKey(first);
  EXPECT_EQ(values.at("system/cpu_utilization_percentage"), 53.3);  // 80 / 150, rounded
  // Used is total - available: 1500000 kB = 1536 MB of 10^6 bytes, 75 %.
  EXPECT_EQ(values.at("system/system_memory_usage_megabytes"), 1536.0);
  EXPECT_EQ(values.at("system/system_memory_usage_percentage"), 75.0);
  EXPECT_DOUBLE_EQ(values.at("system/network_receive_megabytes"), 0.5);
  EXPECT_DOUBLE_EQ(values.at("system/network_transmit_megabytes"), 0.25);
  EXPECT_TRUE(values.contains("system/disk_usage_percentage"));
  EXPECT_TRUE(values.contains("system/disk_usage_megabytes"));
  EXPECT_TRUE(values.contains("system/disk_available_megabytes"));
  EXPECT_GE(values.at("system/disk_usage_percentage"), 0);
  EXPECT_LE(values.at("system/disk_usage_percentage"), 100);
  for (const auto& [key, value] : values) {
    EXPECT_EQ(key.find("gpu"), std::string::npos) << key;  // no NVML: no GPU metrics
  }

  const auto second = sampler.Sample(2345);
  ASSERT_FALSE(second.empty());
  EXPECT_EQ(second.front().step, 1);
  EXPECT_EQ(ByKey(second).at("system/cpu_utilization_percentage"), 0);  // nothing changed
}

TEST(SystemMetricsSampler, PutsTheNodeIdInEveryNameAndSkipsWhatItCannotRead) {
  FakeProc proc;
  proc.Write("meminfo", kMemInfo);  // no stat, no net/dev, no disk
  SystemMetricsSampler sampler({.proc_root = proc.root()}, "node2");
  const auto values = ByKey(sampler.Sample(1));
  EXPECT_EQ(values.size(), 2U);
  EXPECT_TRUE(values.contains("system/node2/system_memory_usage_megabytes"));
  EXPECT_TRUE(values.contains("system/node2/system_memory_usage_percentage"));
}

TEST(SystemMetricsSampler, ReadsThisHost) {
  SystemMetricsSampler sampler({.disk_path = fs::temp_directory_path()}, "");
  const auto values = ByKey(sampler.Sample(1));
  for (const char* name :
       {"system/cpu_utilization_percentage", "system/system_memory_usage_megabytes",
        "system/system_memory_usage_percentage", "system/disk_usage_percentage",
        "system/disk_usage_megabytes", "system/disk_available_megabytes",
        "system/network_receive_megabytes", "system/network_transmit_megabytes"}) {
    EXPECT_TRUE(values.contains(name)) << name;
  }
  EXPECT_GT(values.at("system/system_memory_usage_megabytes"), 0);
}

/// What a reporter sent, for the test thread to look at.
struct SentSamples {
  std::mutex mutex;
  std::vector<std::vector<MetricValue>> samples;
  std::vector<std::string> notes;
};

TEST(SystemMetricsReporter, SamplesEachIntervalAndOnceMoreWhenStopped) {
  FakeProc proc;
  proc.Write("meminfo", kMemInfo);
  SentSamples sent;
  SystemMetricsReporter reporter(
      SystemMetricsSampler({.proc_root = proc.root()}, ""), std::chrono::milliseconds(20),
      [&sent](const std::vector<MetricValue>& sample) -> Result<void> {
        const std::lock_guard lock(sent.mutex);
        sent.samples.push_back(sample);
        return {};
      },
      [&sent](const std::string& line) {
        const std::lock_guard lock(sent.mutex);
        sent.notes.push_back(line);
      });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    {
      const std::lock_guard lock(sent.mutex);
      if (sent.samples.size() >= 3) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  reporter.Stop();
  reporter.Stop();  // idempotent
  const std::lock_guard lock(sent.mutex);
  ASSERT_GE(sent.samples.size(), 4U);  // three periodic ones and the last
  for (std::size_t sample_idx = 0; sample_idx < sent.samples.size(); ++sample_idx) {
    ASSERT_FALSE(sent.samples[sample_idx].empty());
    EXPECT_EQ(sent.samples[sample_idx].front().step, static_cast<std::int64_t>(sample_idx));
  }
  EXPECT_TRUE(sent.notes.empty());
}

TEST(SystemMetricsReporter, StopsPromptlyWithALastSampleAndNotesOneFailure) {
  FakeProc proc;
  proc.Write("meminfo", kMemInfo);
  SentSamples sent;
  std::atomic<int> attempts = 0;
  const auto started = std::chrono::steady_clock::now();
  {
    SystemMetricsReporter reporter(
        SystemMetricsSampler({.proc_root = proc.root()}, ""), std::chrono::hours(1),
        [&attempts](const std::vector<MetricValue>&) -> Result<void> {
          ++attempts;
          return Fail(Error::Internal("connection refused"));
        },
        [&sent](const std::string& line) {
          const std::lock_guard lock(sent.mutex);
          sent.notes.push_back(line);
        });
  }  // destroyed: stops without waiting for the hour
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
  EXPECT_EQ(attempts.load(), 1);
  ASSERT_EQ(sent.notes.size(), 1U);
  EXPECT_EQ(sent.notes[0], "cannot log system metrics: connection refused");
}

TEST(SystemMetricsReporter, ASecondFailureIsNotNotedAgain) {
  FakeProc proc;
  proc.Write("meminfo", kMemInfo);
  SentSamples sent;
  std::atomic<int> attempts = 0;
  SystemMetricsReporter reporter(
      SystemMetricsSampler({.proc_root = proc.root()}, ""), std::chrono::milliseconds(10),
      [&attempts](const std::vector<MetricValue>&) -> Result<void> {
        ++attempts;
        return Fail(Error::Internal("connection refused"));
      },
      [&sent](const std::string& line) {
        const std::lock_guard lock(sent.mutex);
        sent.notes.push_back(line);
      });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (attempts.load() < 3 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  reporter.Stop();
  EXPECT_GE(attempts.load(), 3);  // later samples are still tried
  const std::lock_guard lock(sent.mutex);
  EXPECT_EQ(sent.notes.size(), 1U);
}

TEST(StartSystemMetrics, ZeroIntervalIsOff) {
  gateway::executors::AttemptDescription attempt;
  attempt.system_metrics_interval_ms = 0;
  std::vector<std::string> notes;
  const auto reporter = StartSystemMetrics(
      attempt, 0, 1, "", [&notes](const std::string& line) { notes.push_back(line); });
  EXPECT_TRUE(reporter == nullptr);
  EXPECT_TRUE(notes.empty());
}

TEST(AttemptDescriptionSystemMetrics, RoundTripsDefaultsWhenAbsentAndRefusesNegative) {
  gateway::executors::AttemptDescription attempt;
  attempt.system_metrics_interval_ms = 500;
  auto json = gateway::executors::ToJson(attempt);
  auto read = gateway::executors::AttemptFromJson(json);
  ASSERT_TRUE(read) << read.error().message;
  EXPECT_EQ(read->system_metrics_interval_ms, 500);

  json.erase("system_metrics_interval_ms");  // a file of an older server
  auto older = gateway::executors::AttemptFromJson(json);
  ASSERT_TRUE(older) << older.error().message;
  EXPECT_EQ(older->system_metrics_interval_ms, 10000);

  json["system_metrics_interval_ms"] = -1;
  auto negative = gateway::executors::AttemptFromJson(json);
  ASSERT_FALSE(negative);
  EXPECT_NE(negative.error().message.find("system_metrics_interval_ms"), std::string::npos);
}

}  // namespace
}  // namespace mltf::runner

// resource_request_test.cpp - unit tests of resource request parsing, checks and rendering.
#include "scheduler/resource_request.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mltf::scheduler {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

constexpr std::uint64_t kMiB = std::uint64_t{1} << 20U;
constexpr std::uint64_t kGiB = std::uint64_t{1} << 30U;

ResourceRequest Parsed(const json& object) {
  auto request = ParseResourceRequest(object);
  EXPECT_TRUE(request.has_value()) << object.dump() << ": " << request.error().message;
  return request ? *request : ResourceRequest{};
}

// Expects `object` to be refused with INVALID_PARAMETER_VALUE and a message containing `why`.
void ExpectRefused(const json& object, const std::string& why) {
  auto request = ParseResourceRequest(object);
  ASSERT_FALSE(request.has_value()) << "accepted " << object.dump();
  EXPECT_EQ(request.error().code, ErrorCode::INVALID_PARAMETER_VALUE) << object.dump();
  EXPECT_THAT(request.error().message, HasSubstr(why)) << object.dump();
}

TEST(ResourceRequestTest, EmptyObjectGivesDefaults) {
  const ResourceRequest request = Parsed(json::object());
  EXPECT_EQ(request, ResourceRequest{});
  EXPECT_EQ(request.cpus, 1);
  EXPECT_EQ(request.memory_bytes, 0U);
  EXPECT_EQ(request.gpus, 0);
  EXPECT_EQ(request.nodes, 1);
  EXPECT_EQ(request.tasks_per_node, 1);
  EXPECT_FALSE(request.time_seconds.has_value());
}

TEST(ResourceRequestTest, RefusesNonObjects) {
  for (const json& value : {json::array(), json("cpus"), json(3), json(nullptr)}) {
    ExpectRefused(value, "expected a JSON object");
  }
}

TEST(ResourceRequestTest, NeutralKeys) {
  const ResourceRequest request = Parsed(json::parse(
      R"({"cpus": 4, "memory": "16G", "gpus": 2, "gpu_type": "a100", "nodes": 1,
          "tasks_per_node": 2, "time": "1:30:00"})"));
  EXPECT_EQ(request.cpus, 4);
  EXPECT_EQ(request.memory_bytes, 16 * kGiB);
  EXPECT_EQ(request.gpus, 2);
  EXPECT_EQ(request.gpu_type, "a100");
  EXPECT_EQ(request.tasks_per_node, 2);
  EXPECT_EQ(request.time_seconds, 5400);
}

// accre/mltf-gateway demo/with-gpu/gateway_config.json, as the facility's users hold it.
TEST(ResourceRequestTest, CurrentGatewayConfig) {
  const ResourceRequest request = Parsed(json::parse(
      R"({"nodes": 1, "cpus-per-task": 4, "mem": "8192", "time": 3600,
          "partition": "batch_gpu", "account": "mltf_acc", "gres": "gpu:nvidia_rtx_a6000:1",
          "debug": true})"));
  EXPECT_EQ(request.cpus, 4);
  EXPECT_EQ(request.memory_bytes, 8192 * kMiB);
  EXPECT_EQ(request.time_seconds, 3600);
  EXPECT_EQ(request.partition, "batch_gpu");
  EXPECT_EQ(request.account, "mltf_acc");
  EXPECT_EQ(request.gpus, 1);
  EXPECT_EQ(request.gpu_type, "nvidia_rtx_a6000");
  EXPECT_EQ(request.other.at("debug"), "true");
}

// The gateway prototype's examples/sklearn_elasticnet_wine/mltf_config.json.
TEST(ResourceRequestTest, PrototypeMltfConfig) {
  const ResourceRequest request = Parsed(json::parse(
      R"({"job_name": "wine", "nodes": 1, "ntasks-per-node": 1, "cpus-per-task": 2,
          "partition": "batch", "mem": "4G", "time": "600", "modules": ["python/3.11"],
          "environment": ["OMP_NUM_THREADS=2", "EMPTY=", "WITH_EQ=a=b"], "debug": false})"));
  EXPECT_EQ(request.job_name, "wine");
  EXPECT_EQ(request.cpus, 2);
  EXPECT_EQ(request.memory_bytes, 4 * kGiB);
  EXPECT_EQ(request.time_seconds, 600);
  EXPECT_THAT(request.modules, ElementsAre("python/3.11"));
  EXPECT_THAT(request.environment,
              ElementsAre(Pair("OMP_NUM_THREADS", "2"), Pair("EMPTY", ""), Pair("WITH_EQ", "a=b")));
}

// mlflow-slurm's slurm_config.json keys.
TEST(ResourceRequestTest, MlflowSlurmConfig) {
  const ResourceRequest request = Parsed(json::parse(
      R"({"modules": "anaconda3_gpu cuda/11.8", "mem": "32G", "gpus_per_node": "a100:2",
          "partition": "gpuA100x4", "time": "00:30:00", "ntasks": 4, "nodes": 2,
          "exclusive": true, "exports": ["HF_HOME", "WANDB_MODE"],
          "sbatch-script-file": "my template.sh", "account": "bbmi-delta-gpu",
          "mail-user": "jane.doe+ml@example.org", "mail-type": "END,FAIL",
          "output": "logs/slurm-%j.out", "job-name": "mlflow-run_1"})"));
  EXPECT_THAT(request.modules, ElementsAre("anaconda3_gpu", "cuda/11.8"));
  EXPECT_EQ(request.gpus, 2);
  EXPECT_EQ(request.gpu_type, "a100");
  EXPECT_EQ(request.time_seconds, 1800);
  EXPECT_EQ(request.nodes, 2);
  EXPECT_EQ(request.tasks_per_node, 2);
  EXPECT_TRUE(request.exclusive);
  EXPECT_THAT(request.exports, ElementsAre("HF_HOME", "WANDB_MODE"));
  EXPECT_EQ(request.sbatch_script_file, "my template.sh");
  EXPECT_EQ(request.mail_user, "jane.doe+ml@example.org");
  EXPECT_EQ(request.mail_type, "END,FAIL");
  EXPECT_EQ(request.output, "logs/slurm-%j.out");
  EXPECT_EQ(request.job_name, "mlflow-run_1");
}

TEST(ResourceRequestTest, DropsMlflowInjectedAndClientKeys) {
  const ResourceRequest request = Parsed(json::parse(
      R"({"ENV_MANAGER": null, "SYNCHRONOUS": false, "DOCKER_ARGS": {"x": 1},
          "STORAGE_DIR": "/tmp/x\n", "build_image": null, "docker_auth": null,
          "url": "https://gw", "auth_token": "secret", "cpus": 2})"));
  EXPECT_EQ(request.cpus, 2);
  EXPECT_TRUE(request.other.empty());
}

TEST(ResourceRequestTest, UnknownKeyNamesItAndListsAccepted) {
  ExpectRefused(json::parse(R"({"cpu": 2})"), "Unknown resource key 'cpu'");
  ExpectRefused(json::parse(R"({"cpu": 2})"), "cpus-per-task");
  ExpectRefused(json::parse(R"({"wrap": "id"})"), "Accepted keys: account, cpus");
  ExpectRefused(json::parse(R"({"bad\nkey": 1})"), "'bad\\x0akey'");
}

TEST(ResourceRequestTest, NumbersAsNumbersOrStrings) {
  EXPECT_EQ(Parsed(json::parse(R"({"cpus": "8"})")).cpus, 8);
  EXPECT_EQ(Parsed(json::parse(R"({"cpus": 8.0})")).cpus, 8);
  EXPECT_EQ(Parsed(json::parse(R"({"nodes": "3"})")).nodes, 3);
  EXPECT_EQ(Parsed(json::parse(R"({"gpus": "0"})")).gpus, 0);
  ExpectRefused(json::parse(R"({"cpus": 2.5})"), "not a whole number");
  ExpectRefused(json::parse(R"({"cpus": "2.5"})"), "not a whole number");
  ExpectRefused(json::parse(R"({"cpus": " 2"})"), "not a whole number");
  ExpectRefused(json::parse(R"({"cpus": "0x10"})"), "not a whole number");
  ExpectRefused(json::parse(R"({"cpus": true})"), "must be a number");
  ExpectRefused(json::parse(R"({"cpus": null})"), "must be a number");
  ExpectRefused(json::parse(R"({"nodes": "2-4"})"), "not a whole number");
  ExpectRefused(json::parse(R"({"cpus": "99999999999999999999"})"), "too large");
  ExpectRefused(json::parse(R"({"cpus": 18446744073709551615})"), "too large");
}

TEST(ResourceRequestTest, Ranges) {
  struct Case {
    const char* json;
    const char* why;
  };
  const std::vector<Case> cases = {
      {R"({"cpus": 0})", "between 1 and 4096"},
      {R"({"cpus": -1})", "between 1 and 4096"},
      {R"({"cpus": 4097})", "between 1 and 4096"},
      {R"({"cpus-per-task": "5000"})", "between 1 and 4096"},
      {R"({"nodes": 0})", "between 1 and 10000"},
      {R"({"nodes": 10001})", "between 1 and 10000"},
      {R"({"gpus": -1})", "between 0 and 64"},
      {R"({"gpus": 65})", "between 0 and 64"},
      {R"({"gres": "gpu:65"})", "between 0 and 64"},
      {R"({"tasks_per_node": 0})", "between 1 and 4096"},
      {R"({"ntasks": 0})", "between 1"},
      {R"({"ntasks": 5000})", "more than 4096 per node"},
      {R"({"memory": "65T"})", "larger than 64 TiB"},
      {R"({"mem": 67108865})", "larger than 64 TiB"},
      {R"({"time": 0})", "more than 0 seconds"},
      {R"({"time": -5})", "more than 0 seconds"},
      {R"({"time": "0:00"})", "more than 0 seconds"},
  };
  for (const auto& test : cases) {
    ExpectRefused(json::parse(test.json), test.why);
  }
  EXPECT_EQ(Parsed(json::parse(R"({"cpus": 4096, "nodes": 10000, "gpus": 64})")).cpus, 4096);
  EXPECT_EQ(Parsed(json::parse(R"({"memory": "64T"})")).memory_bytes, kMaxMemoryBytes);
}

TEST(ResourceRequestTest, MemoryForms) {
  struct Case {
    json value;
    std::uint64_t bytes;
  };
  const std::vector<Case> cases = {
      {json(8192), 8192 * kMiB},    {json("8192"), 8192 * kMiB},     {json("4G"), 4 * kGiB},
      {json("4g"), 4 * kGiB},       {json("4GB"), 4 * kGiB},         {json("4gib"), 4 * kGiB},
      {json("512MiB"), 512 * kMiB}, {json("512M"), 512 * kMiB},      {json("1024K"), kMiB},
      {json("1kb"), 1024},          {json("2T"), 2 * (kGiB << 10U)}, {json(1.0), kMiB},
  };
  for (const auto& test : cases) {
    EXPECT_EQ(Parsed(json{{"mem", test.value}}).memory_bytes, test.bytes) << test.value.dump();
    EXPECT_EQ(Parsed(json{{"memory", test.value}}).memory_bytes, test.bytes) << test.value.dump();
  }
  for (const char* bad : {"4X", "4 G", "G", "", "4GBB", "1.5G", "-4G", "4Gi", "0", "0G"}) {
    auto request = ParseResourceRequest(json{{"mem", bad}});
    EXPECT_FALSE(request.has_value()) << bad;
  }
  ExpectRefused(json{{"mem", "4X"}}, "not a memory size");
  ExpectRefused(json{{"mem", 0}}, "not supported");
  ExpectRefused(json{{"mem", -1}}, "negative");
  ExpectRefused(json{{"mem", true}}, "must be a string");
}

TEST(ResourceRequestTest, TimeForms) {
  struct Case {
    json value;
    std::optional<std::int64_t> seconds;
  };
  const std::vector<Case> cases = {
      {json(3600), 3600},
      {json("3600"), 3600},
      {json(60.0), 60},
      {json("30:00"), 1800},
      {json("90:00"), 5400},
      {json("1:00:00"), 3600},
      {json("01:02:03"), 3723},
      {json("2-0"), 172800},
      {json("1-12"), 129600},
      {json("1-2:30"), 95400},
      {json("1-02:03:04"), 93784},
      {json("UNLIMITED"), std::nullopt},
      {json("infinite"), std::nullopt},
      {json("Unlimited"), std::nullopt},
  };
  for (const auto& test : cases) {
    EXPECT_EQ(Parsed(json{{"time", test.value}}).time_seconds, test.seconds) << test.value.dump();
  }
  for (const char* bad : {"", "1:2:3:4", "1-2:3:4:5", "a", "1h", "1:60", "1:00:60", "1-24", "-1",
                          "1--2", "1::2", ":30", "1-", "1:30:"}) {
    auto request = ParseResourceRequest(json{{"time", bad}});
    EXPECT_FALSE(request.has_value()) << bad;
  }
  ExpectRefused(json{{"time", "1h"}}, "not a time limit");
  ExpectRefused(json{{"time", "1:75"}}, "must be below 60");
  ExpectRefused(json{{"time", true}}, "must be a string");
}

TEST(ResourceRequestTest, GresForms) {
  struct Case {
    const char* gres;
    int gpus;
    const char* type;
  };
  const std::vector<Case> cases = {
      {"gpu", 1, ""},
      {"gpu:2", 2, ""},
      {"gpu:a100", 1, "a100"},
      {"gpu:nvidia_rtx_a6000:1", 1, "nvidia_rtx_a6000"},
      {"gpu:0", 0, ""},
      {"shard:2,gpu:3", 3, ""},
      {"gpu:a100:2,mps:100", 2, "a100"},
      {"shard:4", 0, ""},
  };
  for (const auto& test : cases) {
    const ResourceRequest request = Parsed(json{{"gres", test.gres}});
    EXPECT_EQ(request.gpus, test.gpus) << test.gres;
    EXPECT_EQ(request.gpu_type, test.type) << test.gres;
  }
  EXPECT_EQ(Parsed(json{{"gres", "shard:2,gpu:1,mps:50"}}).other.at("gres"), "shard:2,mps:50");
  ExpectRefused(json{{"gres", "gpu:1,gpu:2"}}, "more than once");
  ExpectRefused(json{{"gres", "gpu:a:b:c"}}, "gpu[:type][:count]");
  ExpectRefused(json{{"gres", "gpu:a100:x"}}, "not a whole number");
  ExpectRefused(json{{"gres", "gpu,,"}}, "malformed entry");
  ExpectRefused(json{{"gres", "gpu::1"}}, "must not be empty");
}

TEST(ResourceRequestTest, GpusPerNodeForms) {
  EXPECT_EQ(Parsed(json{{"gpus_per_node", "2"}}).gpus, 2);
  EXPECT_EQ(Parsed(json{{"gpus_per_node", 3}}).gpus, 3);
  const ResourceRequest typed = Parsed(json{{"gpus_per_node", "a100:2"}});
  EXPECT_EQ(typed.gpus, 2);
  EXPECT_EQ(typed.gpu_type, "a100");
  ExpectRefused(json{{"gpus_per_node", "a100"}}, "not a whole number");
  ExpectRefused(json{{"gpus_per_node", "a100:"}}, "not a whole number");
  ExpectRefused(json{{"gpus_per_node", ":2"}}, "must not be empty");
}

TEST(ResourceRequestTest, AgreeingKeysAreFineConflictingAreNot) {
  const ResourceRequest same =
      Parsed(json::parse(R"({"gpus": 2, "gres": "gpu:a100:2", "gpu_type": "a100",
                             "gpus_per_node": "2", "cpus": 2, "cpus-per-task": "2",
                             "mem": "1G", "memory": "1024", "job-name": "a", "job_name": "a"})"));
  EXPECT_EQ(same.gpus, 2);
  EXPECT_EQ(same.memory_bytes, kGiB);
  ExpectRefused(json::parse(R"({"gpus": 1, "gres": "gpu:2"})"), "Conflicting resources");
  ExpectRefused(json::parse(R"({"gpus": 1, "gres": "gpu:2"})"), "'gpus' asks for 1");
  ExpectRefused(json::parse(R"({"gpus_per_node": "2", "gres": "gpu:1"})"), "Conflicting");
  ExpectRefused(json::parse(R"({"gpu_type": "a100", "gres": "gpu:h100:1"})"), "Conflicting");
  ExpectRefused(json::parse(R"({"cpus": 1, "cpus-per-task": 2})"), "Conflicting");
  ExpectRefused(json::parse(R"({"mem": "1G", "memory": "2G"})"),
                "'mem' asks for 1 GiB but 'memory' asks for 2 GiB");
  ExpectRefused(json::parse(R"({"job-name": "a", "job_name": "b"})"), "Conflicting");
  ExpectRefused(json::parse(R"({"ntasks": 4, "nodes": 2, "ntasks-per-node": 4})"), "Conflicting");
  ExpectRefused(json::parse(R"({"gpu_type": "a100"})"), "for no GPUs");
  ExpectRefused(json::parse(R"({"gpus": 0, "gpu_type": "a100"})"), "for no GPUs");
}

TEST(ResourceRequestTest, NtasksIsTotalSpreadOverNodes) {
  EXPECT_EQ(Parsed(json::parse(R"({"ntasks": 4})")).tasks_per_node, 4);
  EXPECT_EQ(Parsed(json::parse(R"({"ntasks": 4, "nodes": 2})")).tasks_per_node, 2);
  EXPECT_EQ(Parsed(json::parse(R"({"ntasks": 5, "nodes": 2})")).tasks_per_node, 3);
  EXPECT_EQ(Parsed(json::parse(R"({"nodes": 2, "ntasks": 5})")).tasks_per_node, 3);
  EXPECT_EQ(Parsed(json::parse(R"({"ntasks": 1, "nodes": 3})")).tasks_per_node, 1);
  EXPECT_EQ(
      Parsed(json::parse(R"({"ntasks": 3, "nodes": 2, "ntasks-per-node": 2})")).tasks_per_node, 2);
}

TEST(ResourceRequestTest, Exclusive) {
  EXPECT_TRUE(Parsed(json{{"exclusive", true}}).exclusive);
  EXPECT_TRUE(Parsed(json{{"exclusive", "yes"}}).exclusive);
  EXPECT_TRUE(Parsed(json{{"exclusive", 1}}).exclusive);
  EXPECT_FALSE(Parsed(json{{"exclusive", "False"}}).exclusive);
  ExpectRefused(json{{"exclusive", "user"}}, "not a boolean");
  ExpectRefused(json{{"exclusive", 2}}, "not a boolean");
}

// Values that become sbatch option values or batch-script lines: injection attempts.
TEST(ResourceRequestTest, RefusesHostileStrings) {
  struct Case {
    json object;
    const char* why;
  };
  const std::vector<Case> cases = {
      {{{"gres", "gpu:1\n#SBATCH --wrap=x"}}, "control character"},
      {{{"partition", "batch\n#SBATCH --wrap=x"}}, "control character"},
      {{{"partition", "--wrap"}}, "must not start with '-'"},
      {{{"partition", "-p"}}, "must not start with '-'"},
      {{{"account", "$(id)"}}, "contains '$'"},
      {{{"account", "a;b"}}, "contains ';'"},
      {{{"account", ";"}}, "contains ';'"},
      {{{"account", ""}}, "must not be empty"},
      {{{"job-name", "x y"}}, "contains ' '"},
      {{{"job-name", "`id`"}}, "contains '`'"},
      {{{"job_name", "a'b"}}, "contains '''"},
      {{{"mail-user", "a@b;rm"}}, "contains ';'"},
      {{{"mail-type", "END|FAIL"}}, "contains '|'"},
      {{{"output", "/etc/passwd"}}, "must be a relative path"},
      {{{"output", "../x"}}, "must not contain '..'"},
      {{{"output", "a/../../x"}}, "must not contain '..'"},
      {{{"output", "out$(id)"}}, "contains '$'"},
      {{{"gres", "gpu:$(id):1"}}, "contains '$'"},
      {{{"gres", "--wrap=x"}}, "must not start with '-'"},
      {{{"gres", "gpu;id"}}, "contains ';'"},
      {{{"gpu_type", "a100 --wrap"}}, "contains ' '"},
      {{{"gpus_per_node", "$(id):1"}}, "contains '$'"},
      {{{"modules", json::array({"cuda; rm -rf /"})}}, "contains ';'"},
      {{{"modules", "cuda $(id)"}}, "contains '$'"},
      {{{"modules", json::array({"--force"})}}, "must not start with '-'"},
      {{{"modules", json::array({1})}}, "must be a string"},
      {{{"modules", 3}}, "must be a list of strings or a string"},
      {{{"environment", json::array({"A=1\nB=2"})}}, "control character"},
      {{{"environment", json::array({"1A=x"})}}, "not a valid variable name"},
      {{{"environment", json::array({"A-B=x"})}}, "not a valid variable name"},
      {{{"environment", json::array({"$(id)=x"})}}, "not a valid variable name"},
      {{{"environment", json::array({"=x"})}}, "not a valid variable name"},
      {{{"environment", json::array({"NOEQUALS"})}}, "not NAME=VALUE"},
      {{{"environment", "A=1"}}, "must be a list of strings"},
      {{{"exports", json::array({"PATH;id"})}}, "not a valid variable name"},
      {{{"sbatch-script-file", "x\r"}}, "control character"},
      {{{"sbatch-script-file", ""}}, "must not be empty"},
      {{{"partition", std::string(300, 'a')}}, "longer than 255"},
      {{{"sbatch-script-file", std::string(5000, 'a')}}, "longer than 4096"},
      {{{"partition", 5}}, "must be a string"},
      {{{"cpus", "2\n"}}, "control character"},
      {{{"partition", "b\x7f"}}, "control character"},
  };
  for (const auto& test : cases) {
    ExpectRefused(test.object, test.why);
  }
}

TEST(ResourceRequestTest, AcceptsOrdinaryStrings) {
  const ResourceRequest request = Parsed(json::parse(
      R"({"partition": "gpu,batch_gpu", "environment": {"PYTHONHASHSEED": "0",
          "MSG": "hello world; $(not run) 'quoted' \u00e9"}, "exports": "HF_HOME,TORCH_HOME",
          "modules": ["gcc/12.2.0", "py-torch+cuda/2.1"]})"));
  EXPECT_EQ(request.partition, "gpu,batch_gpu");
  EXPECT_THAT(request.environment,
              ElementsAre(Pair("MSG", "hello world; $(not run) 'quoted' \u00e9"),
                          Pair("PYTHONHASHSEED", "0")));
  EXPECT_THAT(request.exports, ElementsAre("HF_HOME", "TORCH_HOME"));
  EXPECT_THAT(request.modules, ElementsAre("gcc/12.2.0", "py-torch+cuda/2.1"));
}

TEST(ResourceRequestTest, ToJsonRoundTrips) {
  const ResourceRequest request = Parsed(json::parse(
      R"({"cpus-per-task": 3, "mem": "1536", "gres": "gpu:a100:2,shard:1", "nodes": 2,
          "ntasks": 4, "time": "1-00:00:01", "partition": "p", "account": "acc",
          "exclusive": "true", "modules": "m1 m2", "environment": ["A=1"], "exports": ["B"],
          "job-name": "j", "output": "o.log", "mail-user": "u@x.org", "mail-type": "ALL",
          "sbatch-script-file": "s.sh", "debug": {"level": 2}})"));
  const json out = ToJson(request);
  EXPECT_EQ(out.at("cpus"), 3);
  EXPECT_EQ(out.at("memory"), "1536M");
  EXPECT_EQ(out.at("gpus"), 2);
  EXPECT_EQ(out.at("gpu_type"), "a100");
  EXPECT_EQ(out.at("tasks_per_node"), 2);
  EXPECT_EQ(out.at("time"), 86401);
  EXPECT_EQ(out.at("gres"), "shard:1");
  EXPECT_EQ(out.at("debug"), json::parse(R"({"level": 2})"));
  EXPECT_EQ(Parsed(out), request);
  EXPECT_EQ(Parsed(ToJson(ResourceRequest{})), ResourceRequest{});
  EXPECT_FALSE(ToJson(ResourceRequest{}).contains("memory"));
  EXPECT_FALSE(ToJson(ResourceRequest{}).contains("time"));
}

TEST(ResourceRequestTest, Describe) {
  EXPECT_EQ(DescribeResources(Parsed(json::parse(
                R"({"cpus": 2, "memory": "4G", "gpus": 1, "gpu_type": "a100", "time": 3600})"))),
            "2 cpus, 4 GiB, 1 gpu (a100), 1:00:00");
  EXPECT_EQ(DescribeResources(ResourceRequest{}), "1 cpu, no time limit");
  EXPECT_EQ(DescribeResources(Parsed(json::parse(
                R"({"nodes": 2, "ntasks": 8, "mem": 1536, "gpus": 4, "time": "2-00:00:30",
                    "partition": "gpu", "exclusive": true})"))),
            "2 nodes, 4 tasks/node, 1 cpu, 1536 MiB, 4 gpus, 2-00:00:30, partition gpu, "
            "exclusive");
}

TEST(ResourceRequestTest, FormatTimeLimit) {
  EXPECT_EQ(FormatTimeLimit(59), "0:00:59");
  EXPECT_EQ(FormatTimeLimit(3600), "1:00:00");
  EXPECT_EQ(FormatTimeLimit(86399), "23:59:59");
  EXPECT_EQ(FormatTimeLimit(90061), "1-01:01:01");
}

TEST(ResourceRequestTest, GpuTypeMatching) {
  EXPECT_TRUE(GpuTypeMatches("NVIDIA A100-SXM4-80GB", "a100"));
  EXPECT_TRUE(GpuTypeMatches("NVIDIA A100-SXM4-80GB", "nvidia_a100"));
  EXPECT_TRUE(GpuTypeMatches("NVIDIA RTX A6000", "nvidia_rtx_a6000"));
  EXPECT_TRUE(GpuTypeMatches("nvidia_rtx_a6000", "rtx_a6000"));
  EXPECT_TRUE(GpuTypeMatches("fake-gpu", ""));
  EXPECT_FALSE(GpuTypeMatches("NVIDIA A100-SXM4-80GB", "a10"));
  EXPECT_FALSE(GpuTypeMatches("NVIDIA H100 PCIe", "a100"));
  EXPECT_FALSE(GpuTypeMatches("NVIDIA RTX A6000", "a6000_rtx"));
  EXPECT_FALSE(GpuTypeMatches("", "a100"));
}

}  // namespace
}  // namespace mltf::scheduler

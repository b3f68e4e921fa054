// batch_script_test.cpp - the batch script of an attempt: every facility config key either
// becomes the right sbatch option or is refused, and hostile values cannot change the script.
#include "gateway/executors/slurm/batch_script.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <sstream>

namespace mltf::gateway::executors::slurm {
namespace {

using nlohmann::json;

AttemptRequest MakeAttempt() {
  AttemptRequest attempt;
  attempt.task_id = "0123456789abcdef";
  attempt.attempt = 1;
  attempt.attempt_file = "/shared/mltf/tasks/0123456789abcdef/attempt-1.json";
  attempt.task_dir = "/shared/mltf/tasks/0123456789abcdef";
  return attempt;
}

BatchScriptOptions MakeOptions() {
  BatchScriptOptions options;
  options.runner_binary = "/shared/bin/mltf";
  return options;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream stream(text);
  for (std::string line; std::getline(stream, line);) {
    lines.push_back(line);
  }
  return lines;
}

// The options of the script's #SBATCH lines ("--nodes=2"), checked on the way: each line is
// "#SBATCH --<known option>[=<value without blanks>]", and they all come before the first
// command (sbatch stops reading directives there).
std::vector<std::string> SbatchOptions(const std::string& script,
                                       const std::set<std::string>& extra_names = {}) {
  static const std::set<std::string> kKnown = {
      "--job-name",  "--chdir",           "--output",        "--error",     "--open-mode",
      "--nodes",     "--ntasks-per-node", "--cpus-per-task", "--mem",       "--time",
      "--partition", "--account",         "--gres",          "--exclusive", "--mail-user",
      "--mail-type", "--requeue",         "--no-requeue",    "--signal"};
  std::vector<std::string> options;
  bool in_body = false;
  const auto lines = Lines(script);
  EXPECT_FALSE(lines.empty());
  EXPECT_EQ(lines.front(), "#!/bin/bash");
  for (const auto& line : lines) {
    if (line.starts_with("#SBATCH")) {
      EXPECT_FALSE(in_body) << "directive after the first command: " << line;
      EXPECT_TRUE(line.starts_with("#SBATCH --")) << line;
      const std::string option = line.substr(std::string("#SBATCH ").size());
      EXPECT_EQ(option.find_first_of(" \t'\"\\#$`;"), std::string::npos) << line;
      const std::string name = option.substr(0, option.find('='));
      EXPECT_TRUE(kKnown.contains(name) || extra_names.contains(name)) << line;
      options.push_back(option);
    } else if (!line.empty() && !line.starts_with("#")) {
      in_body = true;
    }
  }
  return options;
}

// The command lines after the directives; each must be one the renderer writes.
void ExpectKnownBody(const std::string& script) {
  static const std::vector<std::string> kPrefixes = {
      "module load ",
      "export ",
      "exec ",
      "srun ",
      "srun_pid=",
      "first_node=",
      "MASTER_ADDR=$(scontrol show node \"$first_node\" ",
      "trap ",
      "while true; do",
      "  wait ",
      "  status=",
      "  if ! kill",
      "    exit ",
      "  fi",
      "done"};
  for (const auto& line : Lines(script)) {
    if (line.empty() || line.starts_with("#")) {
      continue;
    }
    const bool known =
        std::any_of(kPrefixes.begin(), kPrefixes.end(),
                    [&](const std::string& prefix) { return line.starts_with(prefix); });
    EXPECT_TRUE(known) << "unexpected line: " << line;
  }
}

bool Has(const std::vector<std::string>& options, const std::string& option) {
  return std::find(options.begin(), options.end(), option) != options.end();
}

Result<std::string> Render(const json& config, bool preemptible = false,
                           const BatchScriptOptions& options = MakeOptions()) {
  MLTF_ASSIGN_OR_RETURN(resources, scheduler::ParseResourceRequest(config));
  AttemptRequest attempt = MakeAttempt();
  attempt.resources = resources;
  return RenderBatchScript(attempt, resources, preemptible, options);
}

TEST(ShellQuote, QuotesLikeShlex) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "''"},
      {"abc", "abc"},
      {"/shared/bin/mltf", "/shared/bin/mltf"},
      {"a=b,c:d@e%f+g", "a=b,c:d@e%f+g"},
      {"a b", "'a b'"},
      {"it's", "'it'\"'\"'s'"},
      {"$(id)", "'$(id)'"},
      {"`id`", "'`id`'"},
      {"a;rm -rf /", "'a;rm -rf /'"},
      {"$HOME", "'$HOME'"},
      {"x\ny", "'x\ny'"},
      {"'", "''\"'\"''"},
  };
  for (const auto& [text, quoted] : cases) {
    EXPECT_EQ(ShellQuote(text), quoted) << text;
  }
}

TEST(SlurmOptions, MemoryAndTime) {
  EXPECT_EQ(SlurmMemoryOption(std::uint64_t{100} << 20U), "100M");
  EXPECT_EQ(SlurmMemoryOption(std::uint64_t{3} << 29U), "1536M");
  EXPECT_EQ(SlurmMemoryOption(1), "1M");
  EXPECT_EQ(SlurmMemoryOption(std::uint64_t{8} << 30U), "8192M");
  EXPECT_EQ(SlurmTimeOption(3600), "0-01:00:00");
  EXPECT_EQ(SlurmTimeOption(59), "0-00:00:59");
  EXPECT_EQ(SlurmTimeOption(90061), "1-01:01:01");
  EXPECT_EQ(SlurmTimeOption(std::int64_t{30} * 86400), "30-00:00:00");
}

TEST(SbatchArguments, ParsableWithoutTheServiceEnvironment) {
  const auto args = SbatchArguments();
  EXPECT_TRUE(Has(args, "--parsable"));
  EXPECT_TRUE(Has(args, "--export=NONE"));
}

TEST(RenderBatchScript, DefaultsForOneNode) {
  const auto script = Render(json::object());
  ASSERT_TRUE(script) << script.error().message;
  const auto options = SbatchOptions(*script);
  ExpectKnownBody(*script);
  const std::vector<std::string> expected = {
      "--job-name=mltf-01234567",
      "--chdir=/shared/mltf/tasks/0123456789abcdef",
      "--output=/shared/mltf/tasks/0123456789abcdef/slurm-%j.out",
      "--error=/shared/mltf/tasks/0123456789abcdef/slurm-%j.out",
      "--open-mode=append",
      "--nodes=1",
      "--ntasks-per-node=1",
      "--cpus-per-task=1",
      "--no-requeue"};
  EXPECT_EQ(options, expected);
  EXPECT_NE(script->find("\nexec /shared/bin/mltf run-task --attempt-file "
                         "/shared/mltf/tasks/0123456789abcdef/attempt-1.json\n"),
            std::string::npos)
      << *script;
  EXPECT_EQ(script->find("srun"), std::string::npos);
  EXPECT_EQ(script->find("MASTER_ADDR"), std::string::npos);
}

// Every key of the facility's configs (mltf-gateway reference §1.5 and §1.8), through
// ParseResourceRequest: the sbatch option it becomes, or the start of the refusal.
struct KeyCase {
  std::string name;
  json config;
  std::vector<std::string> options;  // each must be among the #SBATCH options
  std::string body;                  // must be in the script
  std::string refused;               // non-empty: RenderBatchScript or the parser refuses
};

TEST(RenderBatchScript, EveryFacilityKeyMapsOrIsRefused) {
  const std::vector<KeyCase> cases = {
      {"account", {{"account", "mltf_acc"}}, {"--account=mltf_acc"}, "", ""},
      {"partition", {{"partition", "batch_gpu"}}, {"--partition=batch_gpu"}, "", ""},
      {"partition list", {{"partition", "a,b"}}, {"--partition=a,b"}, "", ""},
      {"mem MB string", {{"mem", "8192"}}, {"--mem=8192M"}, "", ""},
      {"mem G", {{"mem", "4G"}}, {"--mem=4096M"}, "", ""},
      {"time seconds", {{"time", 3600}}, {"--time=0-01:00:00"}, "", ""},
      {"time slurm", {{"time", "1-02:03:04"}}, {"--time=1-02:03:04"}, "", ""},
      {"time unlimited", {{"time", "UNLIMITED"}}, {}, "", ""},
      {"gres typed",
       {{"gres", "gpu:nvidia_rtx_a6000:1"}},
       {"--gres=gpu:nvidia_rtx_a6000:1"},
       "",
       ""},
      {"gres count", {{"gres", "gpu:2"}}, {"--gres=gpu:2"}, "", ""},
      {"gres other", {{"gres", "gpu:1,shard:2"}}, {"--gres=gpu:1,shard:2"}, "", ""},
      {"gpus_per_node", {{"gpus_per_node", 2}}, {"--gres=gpu:2"}, "", ""},
      {"gpus_per_node typed", {{"gpus_per_node", "a100:4"}}, {"--gres=gpu:a100:4"}, "", ""},
      {"gpus + gpu_type", {{"gpus", 1}, {"gpu_type", "a100"}}, {"--gres=gpu:a100:1"}, "", ""},
      {"nodes", {{"nodes", 2}}, {"--nodes=2"}, "srun --kill-on-bad-exit=1", ""},
      {"ntasks", {{"ntasks", 4}}, {"--ntasks-per-node=4"}, "", ""},
      {"ntasks over nodes",
       {{"ntasks", 4}, {"nodes", 2}},
       {"--ntasks-per-node=2", "--nodes=2"},
       "",
       ""},
      {"ntasks-per-node", {{"ntasks-per-node", 8}}, {"--ntasks-per-node=8"}, "", ""},
      {"cpus-per-task", {{"cpus-per-task", 4}}, {"--cpus-per-task=4"}, "", ""},
      {"cpus", {{"cpus", 3}}, {"--cpus-per-task=3"}, "", ""},
      {"exclusive", {{"exclusive", true}}, {"--exclusive"}, "", ""},
      {"job-name", {{"job-name", "train.v2"}}, {"--job-name=train.v2"}, "", ""},
      {"job_name", {{"job_name", "wine"}}, {"--job-name=wine"}, "", ""},
      {"output",
       {{"output", "logs/out-%j.txt"}},
       {"--output=/shared/mltf/tasks/0123456789abcdef/logs/out-%j.txt"},
       "",
       ""},
      {"mail-user",
       {{"mail-user", "a.b+c@example.org"}},
       {"--mail-user=a.b+c@example.org"},
       "",
       ""},
      {"mail-type", {{"mail-type", "end,fail"}}, {"--mail-type=END,FAIL"}, "", ""},
      {"modules",
       {{"modules", {"gcc/12.2", "cuda/12.1"}}},
       {},
       "module load gcc/12.2\nmodule load cuda/12.1\n",
       ""},
      {"environment list",
       {{"environment", {"A=1", "B=x y"}}},
       {},
       "export A=1\nexport B='x y'\n",
       ""},
      {"environment object",
       {{"environment", {{"OMP_NUM_THREADS", "4"}}}},
       {},
       "export OMP_NUM_THREADS=4\n",
       ""},
      {"debug", {{"debug", true}}, {}, "", ""},
      {"exports", {{"exports", {"HOME"}}}, {}, "", "exports"},
      {"sbatch-script-file", {{"sbatch-script-file", "job.sh"}}, {}, "", "sbatch-script-file"},
      {"mail-type unknown", {{"mail-type", "SOMETIMES"}}, {}, "", "mail-type"},
      {"unknown key", {{"qos", "high"}}, {}, "", "Unknown resource key"},
  };
  for (const auto& test : cases) {
    const auto script = Render(test.config);
    if (!test.refused.empty()) {
      ASSERT_FALSE(script) << test.name;
      EXPECT_EQ(script.error().code, ErrorCode::INVALID_PARAMETER_VALUE) << test.name;
      EXPECT_NE(script.error().message.find(test.refused), std::string::npos)
          << test.name << ": " << script.error().message;
      continue;
    }
    ASSERT_TRUE(script) << test.name << ": " << script.error().message;
    const auto options = SbatchOptions(*script);
    ExpectKnownBody(*script);
    for (const auto& option : test.options) {
      EXPECT_TRUE(Has(options, option)) << test.name << ": no " << option << " in\n" << *script;
    }
    EXPECT_NE(script->find(test.body), std::string::npos) << test.name << ":\n" << *script;
  }
}

TEST(RenderBatchScript, TheFacilityConfigFiles) {
  // gateway_config.json (demo/with-gpu), verbatim.
  const json gateway = {{"nodes", 1},
                        {"cpus-per-task", 4},
                        {"mem", "8192"},
                        {"time", 3600},
                        {"partition", "batch_gpu"},
                        {"account", "mltf_acc"},
                        {"gres", "gpu:nvidia_rtx_a6000:1"},
                        {"debug", false}};
  auto script = Render(gateway);
  ASSERT_TRUE(script) << script.error().message;
  auto options = SbatchOptions(*script);
  for (const std::string option :
       {"--nodes=1", "--cpus-per-task=4", "--mem=8192M", "--time=0-01:00:00",
        "--partition=batch_gpu", "--account=mltf_acc", "--gres=gpu:nvidia_rtx_a6000:1"}) {
    EXPECT_TRUE(Has(options, option)) << option;
  }

  // mltf_config.json (the prototype's example).
  const json mltf = {{"job_name", "sklearn-wine"},
                     {"nodes", 1},
                     {"ntasks-per-node", 1},
                     {"cpus-per-task", 2},
                     {"partition", "batch"},
                     {"mem", "4G"},
                     {"time", 1800},
                     {"modules", {"python/3.10"}},
                     {"environment", {"MLFLOW_NESTED=1"}},
                     {"debug", true}};
  script = Render(mltf);
  ASSERT_TRUE(script) << script.error().message;
  options = SbatchOptions(*script);
  for (const std::string option :
       {"--job-name=sklearn-wine", "--ntasks-per-node=1", "--cpus-per-task=2", "--partition=batch",
        "--mem=4096M", "--time=0-00:30:00"}) {
    EXPECT_TRUE(Has(options, option)) << option;
  }
  EXPECT_NE(script->find("module load python/3.10\nexport MLFLOW_NESTED=1\n"), std::string::npos);

  // slurm_config.json (the user docs, for mlflow-slurm): refused for its script file only.
  json slurm = {{"modules", {"anaconda3_gpu"}},    {"mem", "16g"},       {"gpus_per_node", 1},
                {"partition", "gpuA100x4"},        {"time", "00:30:00"}, {"ntasks", 1},
                {"sbatch-script-file", "batch.sh"}};
  script = Render(slurm);
  ASSERT_FALSE(script);
  EXPECT_NE(script.error().message.find("the facility writes the batch script itself"),
            std::string::npos);
  slurm.erase("sbatch-script-file");
  script = Render(slurm);
  ASSERT_TRUE(script) << script.error().message;
  options = SbatchOptions(*script);
  for (const std::string option : {"--mem=16384M", "--gres=gpu:1", "--partition=gpuA100x4",
                                   "--time=0-00:30:00", "--ntasks-per-node=1"}) {
    EXPECT_TRUE(Has(options, option)) << option;
  }
}

TEST(RenderBatchScript, SeveralNodesStartOneRunnerPerNodeWithSrun) {
  const auto script = Render({{"nodes", 2}, {"ntasks-per-node", 4}, {"cpus-per-task", 2}});
  ASSERT_TRUE(script) << script.error().message;
  SbatchOptions(*script);
  ExpectKnownBody(*script);
  EXPECT_NE(script->find("first_node=$(scontrol show hostnames \"$SLURM_JOB_NODELIST\" "
                         "| head -n1)\n"),
            std::string::npos);
  EXPECT_NE(script->find("MASTER_ADDR=$(scontrol show node \"$first_node\" -o | sed -n "
                         "'s/.* NodeAddr=\\([^ ]*\\).*/\\1/p')\n"
                         "export MASTER_ADDR=${MASTER_ADDR:-$first_node}\n"),
            std::string::npos)
      << *script;
  EXPECT_NE(script->find("export MASTER_PORT=$((20000 + SLURM_JOB_ID % 20000))\n"),
            std::string::npos);
  EXPECT_NE(script->find("srun --kill-on-bad-exit=1 --export=ALL --nodes=2 --ntasks=2 "
                         "--ntasks-per-node=1 --cpus-per-task=8 /shared/bin/mltf run-task "
                         "--attempt-file /shared/mltf/tasks/0123456789abcdef/attempt-1.json &\n"),
            std::string::npos)
      << *script;
  // The signal traps are set before srun starts.
  EXPECT_LT(script->find("trap "), script->find("srun --kill"));
  EXPECT_EQ(script->find("\nexec "), std::string::npos);
}

TEST(RenderBatchScript, PreemptibleTasksAreRequeuedWithTheCheckpointSignal) {
  auto options = MakeOptions();
  options.preempt_grace = std::chrono::seconds(120);
  auto script = Render(json::object(), true, options);
  ASSERT_TRUE(script) << script.error().message;
  auto sbatch = SbatchOptions(*script);
  EXPECT_TRUE(Has(sbatch, "--requeue"));
  EXPECT_TRUE(Has(sbatch, "--signal=B:USR1@120"));
  EXPECT_TRUE(Has(sbatch, "--open-mode=append"));
  EXPECT_FALSE(Has(sbatch, "--no-requeue"));

  for (const auto grace : {0, -5, 70000}) {
    options.preempt_grace = std::chrono::seconds(grace);
    script = Render(json::object(), true, options);
    ASSERT_FALSE(script) << grace;
    EXPECT_NE(script.error().message.find("preempt grace"), std::string::npos);
    // Not preemptible: the grace does not matter.
    EXPECT_TRUE(Render(json::object(), false, options));
  }
}

TEST(RenderBatchScript, OperatorOptionsAndNcclEnvironment) {
  auto options = MakeOptions();
  options.operator_sbatch_options = {"--qos=normal", "--partition=batch"};
  options.nccl_environment = {{"NCCL_SOCKET_IFNAME", "eth0"},
                              {"NCCL_IB_HCA", "mlx5_0,mlx5_1"},
                              {"NCCL_DEBUG", "INFO WARN"}};
  auto script = Render({{"partition", "gpu"}}, false, options);
  ASSERT_TRUE(script) << script.error().message;
  const auto sbatch = SbatchOptions(*script, {"--qos"});
  // The operator's come first, so the task's own partition wins.
  ASSERT_GE(sbatch.size(), 2U);
  EXPECT_EQ(sbatch[0], "--qos=normal");
  EXPECT_EQ(sbatch[1], "--partition=batch");
  EXPECT_TRUE(Has(sbatch, "--partition=gpu"));
  EXPECT_NE(script->find("export NCCL_IB_HCA=mlx5_0,mlx5_1\n"), std::string::npos);
  EXPECT_NE(script->find("export NCCL_SOCKET_IFNAME=eth0\n"), std::string::npos);
  EXPECT_NE(script->find("export NCCL_DEBUG='INFO WARN'\n"), std::string::npos);

  const std::vector<std::string> bad_options = {"--output=/tmp/x",
                                                "--wrap=id",
                                                "--export=ALL",
                                                "--signal=KILL",
                                                "-p batch",
                                                "--qos=a b",
                                                "--qos=a\n#SBATCH --wrap=id",
                                                "--",
                                                "qos=normal",
                                                "--comment=\"x\""};
  for (const auto& bad : bad_options) {
    options.operator_sbatch_options = {bad};
    script = Render(json::object(), false, options);
    ASSERT_FALSE(script) << bad;
    EXPECT_EQ(script.error().code, ErrorCode::INVALID_PARAMETER_VALUE);
  }
  options.operator_sbatch_options.clear();
  options.nccl_environment = {{"NCCL X", "1"}};
  EXPECT_FALSE(Render(json::object(), false, options));
  options.nccl_environment = {{"NCCL_DEBUG", "INFO\nid"}};
  EXPECT_FALSE(Render(json::object(), false, options));
}

// Hostile values written straight into a ResourceRequest (as code could, skipping the parser):
// each is refused, or is inert and the script keeps its shape.
TEST(RenderBatchScript, HostileValuesAreRefusedOrInert) {
  using Mutate = void (*)(scheduler::ResourceRequest&);
  struct Hostile {
    std::string name;
    Mutate mutate;
    bool refused;
  };
  const std::vector<Hostile> cases = {
      {"partition newline", [](auto& r) { r.partition = "batch\n#SBATCH --wrap=id"; }, true},
      {"partition option", [](auto& r) { r.partition = "--wrap=id"; }, true},
      {"partition subshell", [](auto& r) { r.partition = "$(id)"; }, true},
      {"account semicolon", [](auto& r) { r.account = "a;id"; }, true},
      {"account backticks", [](auto& r) { r.account = "`id`"; }, true},
      {"account space", [](auto& r) { r.account = "a --wrap=id"; }, true},
      {"job name option", [](auto& r) { r.job_name = "-J"; }, true},
      {"job name space", [](auto& r) { r.job_name = "x --uid=0"; }, true},
      {"gpu type",
       [](auto& r) {
         r.gpus = 1;
         r.gpu_type = "a100 --wrap=id";
       },
       true},
      {"gres other", [](auto& r) { r.other["gres"] = "shard:1\n#SBATCH --uid=0"; }, true},
      {"mail user", [](auto& r) { r.mail_user = "x@y;id"; }, true},
      {"mail type", [](auto& r) { r.mail_type = "END\n#SBATCH --wrap=id"; }, true},
      {"output absolute", [](auto& r) { r.output = "/etc/passwd"; }, true},
      {"output parent", [](auto& r) { r.output = "logs/../../x"; }, true},
      {"output space", [](auto& r) { r.output = "a b"; }, true},
      {"module subshell", [](auto& r) { r.modules = {"$(id)"}; }, true},
      {"module option", [](auto& r) { r.modules = {"--force"}; }, true},
      {"module newline", [](auto& r) { r.modules = {"gcc\nid"}; }, true},
      {"env name",
       [](auto& r) {
         r.environment = {{"A;id", "1"}};
       },
       true},
      {"env name digit",
       [](auto& r) {
         r.environment = {{"1A", "1"}};
       },
       true},
      {"env value newline",
       [](auto& r) {
         r.environment = {{"A", "1\nid"}};
       },
       true},
      {"env reserved MLTF",
       [](auto& r) {
         r.environment = {{"MLTF_CHECKPOINT_DIR", "/"}};
       },
       true},
      {"env reserved SLURM",
       [](auto& r) {
         r.environment = {{"SLURM_JOB_ID", "1"}};
       },
       true},
      {"env reserved MASTER",
       [](auto& r) {
         r.environment = {{"MASTER_ADDR", "x"}};
       },
       true},
      {"unknown other", [](auto& r) { r.other["wrap"] = "id"; }, true},
      {"nodes zero", [](auto& r) { r.nodes = 0; }, true},
      {"cpus negative", [](auto& r) { r.cpus = -1; }, true},
      {"tasks zero", [](auto& r) { r.tasks_per_node = 0; }, true},
      {"gpus negative", [](auto& r) { r.gpus = -1; }, true},
      {"time zero", [](auto& r) { r.time_seconds = 0; }, true},
      {"script file", [](auto& r) { r.sbatch_script_file = "x.sh"; }, true},
      {"exports", [](auto& r) { r.exports = {"AWS_SECRET_ACCESS_KEY"}; }, true},
      {"env value subshell",
       [](auto& r) {
         r.environment = {{"A", "$(id)"}};
       },
       false},
      {"env value backticks",
       [](auto& r) {
         r.environment = {{"A", "`id`;id"}};
       },
       false},
      {"env value quote",
       [](auto& r) {
         r.environment = {{"A", "x'; id; echo '"}};
       },
       false},
      {"env value option",
       [](auto& r) {
         r.environment = {{"A", "--wrap=id"}};
       },
       false},
  };
  for (const auto& test : cases) {
    scheduler::ResourceRequest resources;
    test.mutate(resources);
    const auto script = RenderBatchScript(MakeAttempt(), resources, false, MakeOptions());
    if (test.refused) {
      ASSERT_FALSE(script) << test.name << " was rendered:\n" << *script;
      EXPECT_EQ(script.error().code, ErrorCode::INVALID_PARAMETER_VALUE) << test.name;
      EXPECT_NE(script.error().message.find("Cannot write the SLURM batch script"),
                std::string::npos)
          << test.name;
      continue;
    }
    ASSERT_TRUE(script) << test.name << ": " << script.error().message;
    const auto options = SbatchOptions(*script);
    EXPECT_EQ(options.size(), 9U) << test.name;
    ExpectKnownBody(*script);
    const std::string line = "export A=" + ShellQuote(resources.environment.front().second) + "\n";
    EXPECT_NE(script->find(line), std::string::npos) << test.name;
    EXPECT_EQ(line.find('\n'), line.size() - 1);
  }
}

// The same values through the parser, as a client sends them: refused before any script.
TEST(RenderBatchScript, HostileConfigValuesAreRefused) {
  const std::vector<json> configs = {
      {{"partition", "batch\n#SBATCH --wrap=id"}},
      {{"partition", "--wrap=id"}},
      {{"account", "$(id)"}},
      {{"job-name", "a;id"}},
      {{"gres", "gpu:`id`:1"}},
      {{"mail-user", "x@y\nid"}},
      {{"modules", {"gcc; id"}}},
      {{"environment", {"A;id=1"}}},
      {{"environment", {"A=1\nid"}}},
      {{"output", "/etc/x"}},
      {{"mem", "1G;id"}},
      {{"time", "1:00:00\n#SBATCH --wrap=id"}},
  };
  for (const auto& config : configs) {
    const auto script = Render(config);
    ASSERT_FALSE(script) << config.dump();
    EXPECT_EQ(script.error().code, ErrorCode::INVALID_PARAMETER_VALUE);
  }
}

TEST(RenderBatchScript, PathsMustBeAbsoluteAndSafeForSbatchLines) {
  auto attempt = MakeAttempt();
  const scheduler::ResourceRequest resources;
  attempt.task_dir = "tasks/1";
  EXPECT_FALSE(RenderBatchScript(attempt, resources, false, MakeOptions()));
  attempt.task_dir = "/shared/my tasks/1";
  auto script = RenderBatchScript(attempt, resources, false, MakeOptions());
  ASSERT_FALSE(script);
  EXPECT_NE(script.error().message.find("task directory"), std::string::npos);
  attempt.task_dir = "/shared/100%/1";
  EXPECT_FALSE(RenderBatchScript(attempt, resources, false, MakeOptions()));

  attempt = MakeAttempt();
  attempt.attempt_file = "attempt.json";
  EXPECT_FALSE(RenderBatchScript(attempt, resources, false, MakeOptions()));
  attempt.attempt_file = "/shared/a\nid/attempt.json";
  EXPECT_FALSE(RenderBatchScript(attempt, resources, false, MakeOptions()));

  // In the script body a path is quoted, so any printable character is fine.
  attempt = MakeAttempt();
  attempt.attempt_file = "/shared/it's here/attempt.json";
  auto options = MakeOptions();
  options.runner_binary = "/opt/my tools/mltf";
  script = RenderBatchScript(attempt, resources, false, options);
  ASSERT_TRUE(script) << script.error().message;
  EXPECT_NE(script->find("exec '/opt/my tools/mltf' run-task --attempt-file "
                         "'/shared/it'\"'\"'s here/attempt.json'\n"),
            std::string::npos)
      << *script;
  options.runner_binary = "mltf";
  EXPECT_FALSE(RenderBatchScript(attempt, resources, false, options));

  attempt = MakeAttempt();
  attempt.task_id = "--wrap";
  EXPECT_FALSE(RenderBatchScript(attempt, resources, false, MakeOptions()));
  attempt.task_id = "abc$(id)";
  EXPECT_FALSE(RenderBatchScript(attempt, resources, false, MakeOptions()));
  attempt = MakeAttempt();
  attempt.attempt = 0;
  EXPECT_FALSE(RenderBatchScript(attempt, resources, false, MakeOptions()));
}

}  // namespace
}  // namespace mltf::gateway::executors::slurm

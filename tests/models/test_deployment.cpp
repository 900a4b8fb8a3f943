#include <catch2/catch.hpp>

#include "helpers.h"

using namespace v3sim;

namespace {

const char* kTrain =
    "name: t\nphase: train\ngpus: 2048\ngpus_per_node: 8\n"
    "parallelism:\n  pp: 16\n  pp_schedule: dualpipe\n  ep: 64\n"
    "batch:\n  seq_len: 4096\n  global_batch_sequences: 15360\n  micro_batch_sequences: 1\n";

std::string replace(std::string s, const std::string& from, const std::string& to) {
  size_t at = s.find(from);
  REQUIRE(at != std::string::npos);
  return s.replace(at, from.size(), to);
}

}  // namespace

TEST_CASE("V3's training deployment: 128-way DP per stage, 2 expert replicas, 120 micro-batches", "[models][deploy]") {
  ModelConfig m = test::model("deepseek-v3-671b");
  Deployment d = test::deployment("v3-train-2048", m);
  CHECK(d.phase == Phase::Train);
  CHECK(d.schedule == PipelineSchedule::DualPipe);
  CHECK(d.stage_gpus() == 128);
  CHECK(d.dp() == 128);
  CHECK(d.expert_dp() == 2);
  CHECK(d.experts_per_gpu(m) == 4);
  CHECK(d.micro_batches() == 120);
  CHECK(d.tokens_per_micro_batch() == 4096);
  CHECK(d.node_limit == 4);
  CHECK(pipeline_slots(m, Phase::Train) == 64);
  CHECK(pipeline_slots(m, Phase::Decode) == 63);
}

TEST_CASE("V3's inference deployments place 8+1, 1 and 2 experts per GPU", "[models][deploy]") {
  ModelConfig m = test::model("deepseek-v3-671b");
  Deployment prefill = test::deployment("v3-prefill-32", m);
  CHECK(prefill.experts_per_gpu(m) == 9);
  CHECK(prefill.tokens_per_micro_batch() == 8192);
  Deployment d320 = test::deployment("v3-decode-320", m);
  CHECK(d320.experts_per_gpu(m) == 1);
  CHECK(d320.fanout(m) == 9);  // the shared expert is routed like the 8 routed ones
  Deployment d144 = test::deployment("v3-decode-144", m);
  CHECK(d144.experts_per_gpu(m) == 2);
  CHECK(d144.fanout(m) == 8);
  Deployment d128 = test::deployment("v3-decode-128", m);
  CHECK(d128.experts_per_gpu(m) == 2);
  CHECK(d128.tokens_per_micro_batch() == 64);
}

SCENARIO("impossible deployments fail at load with the key that is wrong", "[models][deploy]") {
  ModelConfig m = test::model("deepseek-v3-671b");
  struct Case {
    std::string yaml;
    std::string path;
    std::string expected;
  };
  auto c = GENERATE(values<Case>({
      {replace(kTrain, "ep: 64", "ep: 48"), "parallelism.ep", "an EP degree that divides the 128 GPUs"},
      {std::string(kTrain) + "experts:\n  redundant: 4\n", "parallelism.ep",
       "an EP degree that divides the 260 expert slots (256 routed + 4 redundant)"},
      {replace(kTrain, "pp: 16", "pp: 7"), "parallelism.pp",
       "a PP degree that divides the 64 pipeline slots (embedding + 61 layers + 1 MTP + head)"},
      {replace(kTrain, "global_batch_sequences: 15360", "global_batch_sequences: 15000"),
       "batch.global_batch_sequences", "a multiple of dp x micro_batch_sequences"},
      {replace(kTrain, "global_batch_sequences: 15360", "global_batch_sequences: 15488"),
       "batch.global_batch_sequences", "an even number of micro-batches per pipeline for DualPipe"},
      {replace(kTrain, "gpus: 2048", "gpus: 2044"), "gpus", "a whole number of 8-GPU nodes"},
      {replace(kTrain, "  micro_batch_sequences: 1\n", "  requests_per_gpu: 4\n"), "batch.requests_per_gpu",
       "no 'requests_per_gpu' in a train deployment"},
      {replace(kTrain, "  global_batch_sequences: 15360\n", ""), "batch.global_batch_sequences",
       "a value for 'global_batch_sequences' in a train deployment"},
      {replace(kTrain, "ep: 64", "ep: 64\n  tp: 3"), "parallelism.tp", "a TP degree that divides the 128"},
      {replace(kTrain, "ep: 64", "ep: 64\n  tp: 2"), "parallelism.sp", "sp: true with tp > 1"},
      {replace(kTrain, "seq_len: 4096", "seq_len: 0"), "batch.seq_len", "an integer from 1 to"},
      {replace(kTrain, "phase: train", "phase: serve"), "phase", "one of train|prefill|decode"},
  }));
  CAPTURE(c.yaml);
  try {
    test::deployment_text(c.yaml, m);
    FAIL("no error");
  } catch (const ConfigError& e) {
    CHECK(e.key_path() == c.path);
    CHECK_THAT(e.expected(), Catch::Contains(c.expected));
    CHECK(e.loc().file == "deploy.yaml");
    CHECK(e.loc().line > 0);
  }
}

TEST_CASE("pipeline schedules: DualPipe needs an even PP degree", "[models][deploy]") {
  ModelConfig m = test::model("tiny-moe");
  std::string yaml =
      "name: t\nphase: train\ngpus: 8\nparallelism:\n  pp: 8\n  pp_schedule: dualpipe\n"
      "batch:\n  seq_len: 128\n  global_batch_sequences: 16\n";
  CHECK_NOTHROW(test::deployment_text(yaml, m));
  // 8 slots: PP 1, 2, 4, 8 divide them; 1F1B takes odd micro-batch counts, DualPipe does not, and DualPipe needs
  // at least 2 x PP micro-batches (one per rank and direction).
  CHECK_THROWS_WITH(test::deployment_text(replace(yaml, "global_batch_sequences: 16", "global_batch_sequences: 17"), m),
                    Catch::Contains("even number of micro-batches"));
  CHECK_THROWS_WITH(test::deployment_text(replace(yaml, "global_batch_sequences: 16", "global_batch_sequences: 2"), m),
                    Catch::Contains("at least 2 x pp = 16"));
  CHECK_NOTHROW(test::deployment_text(
      replace(replace(yaml, "global_batch_sequences: 16", "global_batch_sequences: 3"), "dualpipe", "1f1b"), m));
}

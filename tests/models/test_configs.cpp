// Every config shipped in configs/ loads and builds a graph.
#include <catch2/catch.hpp>
#include <filesystem>

#include "helpers.h"
#include "models/graph_builder.h"

using namespace v3sim;
namespace fs = std::filesystem;

TEST_CASE("every shipped model loads and builds its reference graphs", "[models][configs]") {
  int n = 0;
  for (const auto& e : fs::directory_iterator(std::string(V3SIM_SOURCE_DIR) + "/configs/models")) {
    if (e.path().extension() != ".yaml") continue;
    CAPTURE(e.path().string());
    ModelConfig m = load_model_config(load_config_file(e.path().string()));
    for (Phase p : {Phase::Train, Phase::Prefill, Phase::Decode}) {
      OpGraph g = build_graph(m, reference_deployment(p, 512));
      CHECK(g.num_ops() > 0);
    }
    ++n;
  }
  CHECK(n >= 4);
}

TEST_CASE("every shipped deployment loads with the model it names and builds", "[models][configs]") {
  int n = 0;
  for (const auto& e : fs::directory_iterator(std::string(V3SIM_SOURCE_DIR) + "/configs/deployments")) {
    if (e.path().extension() != ".yaml") continue;
    CAPTURE(e.path().string());
    ConfigNode root = load_config_file(e.path().string());
    std::string model_name = deployment_model_name(root);
    REQUIRE(!model_name.empty());
    ModelConfig m = test::model(model_name);
    Deployment d = load_deployment(root, m);
    GraphOptions opt;
    opt.max_micro_batches = 2;
    OpGraph g = build_graph(m, d, opt);
    CHECK(g.num_ops() > 0);
    CHECK(tokens_per_step(d) > 0);
    ++n;
  }
  CHECK(n >= 8);
}

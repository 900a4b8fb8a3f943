// libFuzzer harness over v3sim's inputs: YAML text through the config loader into each document's reader
// (model, hardware, deployment, cluster), and `--set` arguments applied to a shipped document. A ConfigError is
// the right answer to a bad input; anything else (a crash, a sanitizer report, an InternalError or any other
// exception, a hang past -timeout, memory past -rss_limit_mb) is a finding.
//
// The first byte picks the target (byte % 6), the rest is the text:
//   0 model YAML   1 hardware YAML   2 deployment YAML (on tiny-moe)   3 cluster YAML
//   4 lines of --set arguments on the shipped tiny-train/tiny-moe/h800/cluster documents
//   5 YAML text through the loader alone (no reader)
// `extends:` resolves against configs/ (V3SIM_CONFIGS, or the source tree's), so seeds may extend shipped files.
// Built by -DV3SIM_FUZZ=ON with clang (CMake preset "fuzz"); scripts/fuzz.sh runs it.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"
#include "core/error.h"
#include "models/deployment.h"
#include "models/model_config.h"
#include "sim/hardware.h"
#include "sim/net/cluster.h"

using namespace v3sim;

namespace {

std::string configs_dir() {
  const char* env = std::getenv("V3SIM_CONFIGS");
  return env && *env ? std::string(env) : std::string(V3SIM_SOURCE_DIR) + "/configs";
}

const ModelConfig& tiny_model() {
  static const ModelConfig m = load_model_config(load_config_file(configs_dir() + "/models/tiny-moe.yaml"));
  return m;
}

void run_target(unsigned target, std::string_view text) {
  const std::string dir = configs_dir();
  switch (target) {
    case 0:
      load_model_config(parse_config_text(text, "fuzz-model.yaml", dir + "/models"));
      return;
    case 1:
      load_hardware(parse_config_text(text, "fuzz-hw.yaml", dir + "/hardware"));
      return;
    case 2:
      load_deployment(parse_config_text(text, "fuzz-deploy.yaml", dir + "/deployments"), tiny_model());
      return;
    case 3:
      net::load_cluster(parse_config_text(text, "fuzz-cluster.yaml", dir + "/clusters"));
      return;
    case 4: {
      // Each line one --set argument, as the command line gives them (cli/common.cpp's route, without CLI11).
      static const ConfigNode kModel = load_config_file(dir + "/models/tiny-moe.yaml");
      static const ConfigNode kDeploy = load_config_file(dir + "/deployments/tiny-train.yaml");
      static const ConfigNode kHw = load_config_file(dir + "/hardware/h800.yaml");
      static const ConfigNode kCluster = load_config_file(dir + "/clusters/h800-2048-mpft.yaml");
      ConfigNode model = kModel, deploy = kDeploy, hw = kHw, cluster = kCluster;
      std::istringstream lines{std::string(text)};
      std::string line;
      int n = 0;
      while (std::getline(lines, line) && n++ < 16) {
        const Override o = parse_override(line);
        ConfigNode* doc = o.document == "model"     ? &model
                          : o.document == "deploy"  ? &deploy
                          : o.document == "hw"      ? &hw
                          : o.document == "cluster" ? &cluster
                                                    : nullptr;
        if (!doc) return;
        apply_override(*doc, o.key_path, o.value, SourceLoc{"--set " + o.text, 0});
      }
      const ModelConfig m = load_model_config(model);
      load_deployment(deploy, m);
      load_hardware(hw);
      net::load_cluster(cluster);
      return;
    }
    default:
      parse_config_text(text, "fuzz.yaml", dir);
      return;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const unsigned target = data[0] % 6;
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  try {
    run_target(target, text);
  } catch (const ConfigError&) {
    // the answer to a bad input
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz_config: target %u: not a ConfigError: %s\n", target, e.what());
    std::abort();
  }
  return 0;
}

// `v3sim numerics`: FP8 formats, quantization and tensor-core accumulation, bit-exact.
//   numerics dot   one output of one FP8 wgmma k32 step
//   numerics gemm  accumulation error of a quantized random GEMM against FP64 (optionally over K)
//   numerics cast  FP32 values to FP8/BF16/FP16 codes and back
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/error.h"
#include "core/text.h"
#include "sim/hardware.h"
#include "sim/numerics/error_study.h"

namespace v3sim::cli {

namespace {

using numerics::AccumulatorModel;
using numerics::Format;

struct NumericsArgs {
  // shared
  std::string hw;
  std::string accumulator;
  std::vector<std::string> sets;
  bool json = false;
  // dot
  std::string a_type = "e4m3", b_type = "e4m3";
  std::string a_codes, b_codes;
  std::string c_bits = "0x00000000";
  // gemm: --m --n --k --seed --promote-every --threads --sweep-k through the study's table
  TableOptions gemm_table{numerics::error_study_spec(), "numerics_gemm"};
  std::string dist = "normal";
  bool ue8m0 = false;
  // cast
  std::string to = "e4m3";
  std::vector<std::string> values;
};

Format fp8_format(const std::string& text, const char* option) {
  Format f;
  if (!numerics::parse_format(text, f) || (f != Format::E4M3 && f != Format::E5M2)) {
    throw ConfigError(SourceLoc{option, 0}, "", "an FP8 format: e4m3 or e5m2", fmt::format("'{}'", text));
  }
  return f;
}

// The accumulator to use: --accumulator PRESET, else the hardware file's numerics.fp8 (default h800).
AccumulatorModel pick_accumulator(const NumericsArgs& a) {
  if (!a.accumulator.empty()) {
    if (!a.hw.empty()) {
      throw ConfigError(SourceLoc{"--accumulator", 0}, "", "either --accumulator or --hw, not both",
                        fmt::format("'{}' and '{}'", a.accumulator, a.hw));
    }
    AccumulatorModel m;
    if (!AccumulatorModel::preset(a.accumulator, m)) {
      std::string names;
      for (const auto& n : AccumulatorModel::preset_names()) names += (names.empty() ? "" : ", ") + n;
      throw ConfigError(SourceLoc{"--accumulator", 0}, "", "a preset (" + names + ")",
                        fmt::format("'{}'", a.accumulator));
    }
    return m;
  }
  auto overrides = parse_overrides(a.sets, {"hw"});
  std::string path = resolve_config(a.hw.empty() ? "h800" : a.hw, "hardware", "--hw");
  HardwareConfig h = load_hardware(load_document(path, "hw", overrides));
  return h.fp8;
}

std::vector<uint8_t> parse_codes(const std::string& text, const char* option, size_t expected) {
  std::vector<uint8_t> out;
  size_t start = 0;
  int item = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    std::string tok = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    ++item;
    while (!tok.empty() && tok.front() == ' ') tok.erase(tok.begin());
    while (!tok.empty() && tok.back() == ' ') tok.pop_back();
    size_t used = 0;
    unsigned long v = 0;
    bool ok = tok.size() > 2 && (tok[0] == '0') && (tok[1] == 'x' || tok[1] == 'X');
    if (ok) {
      try {
        v = std::stoul(tok.substr(2), &used, 16);
      } catch (const std::exception&) {
        ok = false;
      }
      ok = ok && used == tok.size() - 2 && v <= 0xFF;
    }
    if (!ok) {
      throw ConfigError(SourceLoc{option, 0}, "", "hex FP8 codes like 0x38 (00 to FF), comma-separated",
                        fmt::format("'{}' (item {})", tok, item));
    }
    out.push_back(static_cast<uint8_t>(v));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (out.size() != expected) {
    throw ConfigError(SourceLoc{option, 0}, "",
                      fmt::format("{} comma-separated FP8 codes (one wgmma k32 step)", expected),
                      fmt::format("{} code{}", out.size(), out.size() == 1 ? "" : "s"));
  }
  return out;
}

uint32_t parse_bits(const std::string& text, const char* option) {
  size_t used = 0;
  unsigned long long v = 0;
  bool ok = text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X');
  if (ok) {
    try {
      v = std::stoull(text.substr(2), &used, 16);
    } catch (const std::exception&) {
      ok = false;
    }
  }
  if (!ok || used != text.size() - 2 || v > 0xFFFFFFFFull) {
    throw ConfigError(SourceLoc{option, 0}, "", "an FP32 bit pattern in hex like 0x3f800000",
                      fmt::format("'{}'", text));
  }
  return static_cast<uint32_t>(v);
}

int run_dot(const NumericsArgs& a, const RunOptions& opts) {
  const Format af = fp8_format(a.a_type, "--a-type"), bf = fp8_format(a.b_type, "--b-type");
  const AccumulatorModel model = pick_accumulator(a);
  constexpr size_t kK = 32;  // wgmma.m64nNk32: 32 products per output per instruction
  const std::vector<uint8_t> av = parse_codes(a.a_codes, "--a", kK), bv = parse_codes(a.b_codes, "--b", kK);
  const uint32_t c = parse_bits(a.c_bits, "--c");
  if (opts.validate_only) return 0;
  std::vector<numerics::Term> ta, tb;
  for (size_t i = 0; i < kK; ++i) {
    ta.push_back(numerics::term_of(af, av[i]));
    tb.push_back(numerics::term_of(bf, bv[i]));
  }
  const int pf = numerics::info(af).mantissa_bits + numerics::info(bf).mantissa_bits;
  const uint32_t d = numerics::mma_terms(model, ta.data(), tb.data(), static_cast<int>(kK), pf, c);
  const float df = numerics::bits_float(d);
  if (a.json) {
    nlohmann::json j;
    j["d_bits"] = fmt::format("0x{:08x}", d);
    j["d"] = df;
    j["accumulator"] = model.name;
    std::puts(j.dump().c_str());
  } else {
    fmt::print("d = {:.9g} (0x{:08x}) with {} accumulation\n", df, d, model.name);
  }
  return 0;
}

nlohmann::json stats_json(const numerics::ErrorStats& s, int64_t k) {
  return {{"k", k},
          {"max_rel_error", s.max_rel_error},
          {"mean_rel_error", s.mean_rel_error},
          {"normwise_rel_error", s.normwise_rel_error},
          {"mean_signed_rel_error", s.mean_signed_rel_error},
          {"outputs_counted", s.outputs_counted},
          {"seconds", s.seconds},
          {"macs_per_second", s.macs_per_second}};
}

int run_gemm(NumericsArgs& a, const RunOptions& opts) {
  const ParamReader& t = a.gemm_table.read();
  numerics::ErrorStudy s;
  s.m = t.get_int("m");
  s.n = t.get_int("n");
  s.k = t.get_int("k");
  if (!numerics::parse_distribution(a.dist, s.dist)) {
    throw ConfigError(SourceLoc{"--dist", 0}, "", "normal, uniform or uniform_pos", fmt::format("'{}'", a.dist));
  }
  s.seed = static_cast<uint64_t>(t.get_int("seed"));
  s.a_format = fp8_format(a.a_type, "--a-type");
  s.b_format = fp8_format(a.b_type, "--b-type");
  s.ue8m0 = a.ue8m0;
  s.emulation.model = pick_accumulator(a);
  s.emulation.promote_every = static_cast<int>(t.get_int("promote_every"));
  s.emulation.threads = t.has("threads") ? static_cast<int>(t.get_int("threads"))
                                         : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const bool sweep = t.has("sweep_k");
  const std::vector<int64_t> ks = sweep ? t.get_int_list("sweep_k") : std::vector<int64_t>{s.k};
  // Everything checked before anything is printed: the promotion interval, and the work of every K.
  a.gemm_table.guard([&] {
    numerics::check_promotion(s.emulation.model, s.emulation.promote_every);
    for (int64_t k : ks) {
      numerics::ErrorStudy one = s;
      one.k = k;
      numerics::check_error_study_work(one);
    }
  });
  if (opts.validate_only) return 0;

  nlohmann::json j;
  j["accumulator"] = s.emulation.model.name;
  j["m"] = s.m;
  j["n"] = s.n;
  j["dist"] = a.dist;
  j["seed"] = s.seed;
  j["promote_every"] = s.emulation.promote_every;
  j["a_type"] = a.a_type;
  j["b_type"] = a.b_type;
  j["ue8m0_scales"] = s.ue8m0;
  nlohmann::json rows = nlohmann::json::array();
  numerics::ErrorStats last;
  if (!a.json) {
    fmt::print("{} accumulation, {}x{} outputs, {} inputs, promotion every {} K{}\n", s.emulation.model.name, s.m, s.n,
               a.dist, s.emulation.promote_every, s.emulation.promote_every == 0 ? " (tensor core only)" : "");
    fmt::print("{:>7} {:>14} {:>14} {:>14} {:>14}\n", "K", "max_rel", "mean_rel", "normwise_rel", "mean_signed");
  }
  for (int64_t k : ks) {
    s.k = k;
    last = a.gemm_table.guard([&] { return numerics::run_error_study(s); });
    rows.push_back(stats_json(last, k));
    if (!a.json) {
      fmt::print("{:>7} {:>14.4e} {:>14.4e} {:>14.4e} {:>14.4e}\n", k, last.max_rel_error, last.mean_rel_error,
                 last.normwise_rel_error, last.mean_signed_rel_error);
    }
  }
  j["quantization"] = {{"a", last.a_quantization}, {"b", last.b_quantization}};
  if (!sweep) {
    for (auto& [key, value] : rows[0].items()) j[key] = value;
  } else {
    j["sweep"] = rows;
  }
  if (a.json) {
    std::puts(j.dump(2).c_str());
  } else {
    fmt::print(
        "quantization: A {}, B {}; errors against the FP64 product of the same quantized inputs; max and mean "
        "over outputs with |ref| >= 0.1 x mean |ref|\n",
        last.a_quantization, last.b_quantization);
  }
  return 0;
}

int run_cast(const NumericsArgs& a, const RunOptions& opts) {
  Format f;
  if (!numerics::parse_format(a.to, f) || f == Format::UE8M0 || f == Format::FP32) {
    throw ConfigError(SourceLoc{"--to", 0}, "", "e4m3, e5m2, bf16 or fp16", fmt::format("'{}'", a.to));
  }
  std::vector<float> values;
  for (const auto& text : a.values) {
    size_t used = 0;
    float x = 0;
    try {
      x = std::stof(text, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != text.size() || text.empty()) {
      throw ConfigError(SourceLoc{"numerics cast", 0}, "", "numbers like 0.3 or -448", quote(text));
    }
    values.push_back(x);
  }
  if (opts.validate_only) return 0;
  nlohmann::json rows = nlohmann::json::array();
  for (const float x : values) {
    const uint32_t code = numerics::encode(f, x);
    const double back = numerics::decode(f, code);
    rows.push_back(
        {{"input", x}, {"code", fmt::format("0x{:0{}x}", code, numerics::info(f).bits / 4)}, {"value", back}});
    if (!a.json) fmt::print("{:>14.9g} -> 0x{:0{}x} = {:.9g}\n", x, code, numerics::info(f).bits / 4, back);
  }
  if (a.json) std::puts(nlohmann::json{{"format", a.to}, {"values", rows}}.dump(2).c_str());
  return 0;
}

void add_accumulator_options(CLI::App* cmd, NumericsArgs& a) {
  cmd->add_option("--hw", a.hw, "hardware YAML file or name whose numerics.fp8 to use (default h800)");
  cmd->add_option("--accumulator", a.accumulator,
                  "a preset instead of --hw: hopper-fp8, hopper-bf16, blackwell-fp8, ideal-fp32");
  add_set_option(*cmd, a.sets);
  cmd->add_flag("--json", a.json, "print one JSON object on stdout");
}

}  // namespace

CommandRunner add_numerics_command(CLI::App& app) {
  auto a = std::make_shared<NumericsArgs>();
  CLI::App* cmd = app.add_subcommand("numerics", "FP8 formats, quantization and tensor-core accumulation, bit-exact");
  cmd->require_subcommand(1);

  CLI::App* dot = cmd->add_subcommand("dot", "One output of one FP8 wgmma.m64nNk32 step: D = A.B + C");
  dot->footer("Example: v3sim numerics dot --a 0x38,0x38,...(32 codes) --b 0x38,... --c 0x3f800000 --json");
  dot->add_option("--a-type", a->a_type, "format of A: e4m3 or e5m2")->capture_default_str();
  dot->add_option("--b-type", a->b_type, "format of B: e4m3 or e5m2")->capture_default_str();
  dot->add_option("--a", a->a_codes, "32 comma-separated FP8 codes in hex")->required();
  dot->add_option("--b", a->b_codes, "32 comma-separated FP8 codes in hex")->required();
  dot->add_option("--c", a->c_bits, "FP32 bit pattern of the incoming accumulator")->capture_default_str();
  add_accumulator_options(dot, *a);

  CLI::App* gemm = cmd->add_subcommand("gemm", "Accumulation error of an FP8 GEMM on random inputs against FP64");
  gemm->footer(
      "Examples:\n"
      "  v3sim numerics gemm --k 4096 --dist normal                     # H800, promotion every 128 (DeepSeek)\n"
      "  v3sim numerics gemm --k 4096 --promote-every 0                 # tensor core only\n"
      "  v3sim numerics gemm --accumulator blackwell-fp8 --promote-every 0\n"
      "  v3sim numerics gemm --promote-every 0 --sweep-k 256,512,1024,2048,4096,8192,16384\n"
      "With promotion, inputs are quantized as DeepSeek-V3 does (A 1x128 tiles, B 128x128 blocks) and the scales are\n"
      "applied when promoting; tensor-core-only accumulation cannot apply per-block scales, so it uses one scale per\n"
      "row of A and of B, applied at the end.");
  a->gemm_table.add(*gemm, "--m", "m");
  a->gemm_table.add(*gemm, "--n", "n");
  a->gemm_table.add(*gemm, "--k", "k");
  gemm->add_option("--dist", a->dist, "input distribution: normal N(0,1), uniform U(-1,1), uniform_pos U(0,1)")
      ->capture_default_str();
  a->gemm_table.add(*gemm, "--seed", "seed");
  a->gemm_table.add(*gemm, "--promote-every", "promote_every");
  gemm->add_option("--a-type", a->a_type, "format of A: e4m3 or e5m2")->capture_default_str();
  gemm->add_option("--b-type", a->b_type, "format of B: e4m3 or e5m2")->capture_default_str();
  gemm->add_flag("--ue8m0", a->ue8m0, "round scales up to powers of two (DeepSeek-V3.1 scale_fmt ue8m0)");
  a->gemm_table.add(*gemm, "--threads", "threads");
  a->gemm_table.add(*gemm, "--sweep-k", "sweep_k", "comma-separated K values: print the error against K");
  add_accumulator_options(gemm, *a);

  CLI::App* cast = cmd->add_subcommand("cast", "Round FP32 values to an 8- or 16-bit format and show code and value");
  cast->add_option("--to", a->to, "e4m3, e5m2, bf16 or fp16")->capture_default_str();
  cast->add_option("values", a->values, "numbers")->required();
  cast->add_flag("--json", a->json, "print one JSON object on stdout");

  return [a, dot, gemm, cast](const RunOptions& opts) {
    if (dot->parsed()) return run_dot(*a, opts);
    if (gemm->parsed()) return run_gemm(*a, opts);
    if (cast->parsed()) return run_cast(*a, opts);
    return 2;
  };
}

}  // namespace v3sim::cli

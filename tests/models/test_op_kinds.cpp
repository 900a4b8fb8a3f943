// The op-kind traits table (models/op.h): one row per kind, in enum order, names that round-trip.
#include <catch2/catch.hpp>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#include "core/enum_names.h"
#include "models/deployment.h"
#include "models/op.h"

using namespace v3sim;

TEST_CASE("every op kind round-trips name -> kind -> name", "[models]") {
  for (int i = 0; i < static_cast<int>(OpKind::kCount); ++i) {
    const OpKind k = static_cast<OpKind>(i);
    const std::string name = to_string(k);
    INFO("op kind " << i << " " << name);
    const auto back = op_kind_named(name);
    REQUIRE(back.has_value());
    CHECK(*back == k);
    CHECK(std::string(to_string(*back)) == name);
  }
  CHECK_FALSE(op_kind_named("no_such_kind").has_value());
  CHECK_FALSE(op_kind_named("").has_value());
}

TEST_CASE("the traits table has one row per op kind, in enum order", "[models]") {
  REQUIRE(std::size(kOpKindTraits) == static_cast<size_t>(OpKind::kCount));
  std::set<std::string> names;
  for (size_t i = 0; i < std::size(kOpKindTraits); ++i) {
    CHECK(static_cast<size_t>(kOpKindTraits[i].kind) == i);
    CHECK(&traits_of(kOpKindTraits[i].kind) == &kOpKindTraits[i]);
    names.insert(kOpKindTraits[i].name);
  }
  CHECK(names.size() == std::size(kOpKindTraits));  // names are unique
}

TEST_CASE("the communication kinds are exactly the six collectives", "[models]") {
  const std::set<OpKind> collectives = {OpKind::AllToAllDispatch, OpKind::AllToAllCombine, OpKind::AllGather,
                                        OpKind::ReduceScatter,    OpKind::AllReduce,       OpKind::SendRecv};
  for (const OpKindTraits& t : kOpKindTraits) {
    INFO(t.name);
    CHECK(is_communication(t.kind) == (collectives.count(t.kind) == 1));
    CHECK(is_memory_bound(t.kind) == (t.family == OpFamily::MemoryBound));
  }
  CHECK_FALSE(is_communication(OpKind::kCount));
  CHECK(std::string(to_string(OpKind::kCount)) == "?");
}

TEST_CASE("all-to-all phases: one name each, parsed back, DeepEP's bytes per token copy", "[models][op]") {
  for (const AllToAllPhase p : kAllToAllPhases) {
    CAPTURE(to_string(p));
    REQUIRE(enum_named(to_string(p), kAllToAllPhases) == p);
  }
  CHECK(enum_choices(kAllToAllPhases) == std::vector<std::string>{"dispatch", "combine"});
  CHECK_FALSE(enum_named("dispach", kAllToAllPhases).has_value());
  CHECK(alltoall_copy_bytes(AllToAllPhase::Dispatch, 7168) == 7168 + 56 * 4);  // FP8 + one FP32 scale per 128
  CHECK(alltoall_copy_bytes(AllToAllPhase::Dispatch, 7000) == 7000 + 55 * 4);  // a partial tile has its own scale
  CHECK(alltoall_copy_bytes(AllToAllPhase::Combine, 7168) == 2 * 7168);        // BF16
}

TEST_CASE("config enums: every listed value has its own name, and the name parses back to it", "[models][enum]") {
  auto round_trip = [](const auto& values) {
    const std::vector<std::string> names = enum_choices(values);
    CHECK(std::set<std::string>(names.begin(), names.end()).size() == names.size());
    for (const auto v : values) CHECK(enum_named(to_string(v), values) == v);
  };
  round_trip(kAllToAllPhases);
  round_trip(kPhases);
  round_trip(kConfigSchedules);
  round_trip(kGemmKernels);
  CHECK(enum_choices(kPhases) == std::vector<std::string>{"train", "prefill", "decode"});
  CHECK(enum_choices(kConfigSchedules) == std::vector<std::string>{"dualpipe", "1f1b", "zb1p"});
}

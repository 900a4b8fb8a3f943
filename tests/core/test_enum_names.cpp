#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "core/enum_names.h"

namespace v3sim {
namespace {

enum class Fruit { Apple, Pear, Plum };
constexpr Fruit kFruits[] = {Fruit::Pear, Fruit::Apple};  // a subset, in the order a spec lists its choices

const char* to_string(Fruit f) {
  switch (f) {
    case Fruit::Apple:
      return "apple";
    case Fruit::Pear:
      return "pear";
    case Fruit::Plum:
      return "plum";
  }
  return "?";
}

}  // namespace

TEST_CASE("enum_named and enum_choices derive from to_string and the values listed", "[core][enum]") {
  CHECK(enum_named("apple", kFruits) == Fruit::Apple);
  CHECK(enum_named("pear", kFruits) == Fruit::Pear);
  CHECK_FALSE(enum_named("plum", kFruits).has_value());   // a value not listed is not a choice
  CHECK_FALSE(enum_named("Apple", kFruits).has_value());  // names are exact
  CHECK_FALSE(enum_named("", kFruits).has_value());
  CHECK(enum_choices(kFruits) == std::vector<std::string>{"pear", "apple"});
}

}  // namespace v3sim

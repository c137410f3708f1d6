#include <mer/core/registry.hpp>

#include <gtest/gtest.h>

namespace mer {
namespace {

struct Thing {
  virtual ~Thing() = default;
  int size = 0;
};

Registry<Thing> make_registry() {
  Registry<Thing> r("things");
  r.add("square", [](const ConfigNode& n) {
    auto t = std::make_unique<Thing>();
    t->size = n.get<int>("size", 2);
    return t;
  });
  return r;
}

TEST(Registry, BuildsByTypeWithOptions) {
  auto r = make_registry();
  auto cfg = Config::from_string("thing: {type: square, size: 7}\n", "r.yaml");
  EXPECT_EQ(r.build(cfg.root().child("thing"))->size, 7);
  EXPECT_TRUE(r.contains("square"));
  EXPECT_EQ(r.names(), std::vector<std::string>{"square"});
}

TEST(Registry, MissNamesRegistryLineKnownNamesAndSuggestion) {
  auto r = make_registry();
  auto cfg = Config::from_string("x: 1\nthing:\n  type: sqare\n", "r.yaml");
  try {
    r.build(cfg.root().child("thing"));
    FAIL() << "expected RegistryError";
  } catch (const RegistryError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("r.yaml:3"), std::string::npos) << msg;
    EXPECT_NE(msg.find("things"), std::string::npos) << msg;
    EXPECT_NE(msg.find("did you mean 'square'"), std::string::npos) << msg;
  }
}

TEST(Registry, DuplicateThrows) {
  auto r = make_registry();
  EXPECT_THROW(r.add("square", [](const ConfigNode&) { return std::make_unique<Thing>(); }), RegistryError);
}

TEST(Registry, MissingTypeIsAConfigError) {
  auto r = make_registry();
  auto cfg = Config::from_string("thing: {size: 3}\n", "r.yaml");
  EXPECT_THROW(r.build(cfg.root().child("thing")), ConfigError);
}

}  // namespace
}  // namespace mer

#include <mer/core/config.hpp>
#include <mer/core/error.hpp>
#include <mer/io/atomic_file.hpp>

#include <gtest/gtest.h>

#include <cstdlib>

#include "support/test_paths.hpp"

namespace mer {
namespace {

using test::TempDir;

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(Config, ReadsValuesAndFillsDefaults) {
  auto cfg = Config::from_string("train:\n  epochs: 5\n  lr: 0.01\n", "t.yaml");
  auto train = cfg.root().child("train");
  EXPECT_EQ(train.get<int>("epochs", 1), 5);
  EXPECT_DOUBLE_EQ(train.get<double>("lr", 1.0), 0.01);
  EXPECT_EQ(train.get<int>("batch_size", 32), 32);
  EXPECT_NE(cfg.dump().find("batch_size: 32"), std::string::npos) << cfg.dump();
  EXPECT_NO_THROW(cfg.check_all_used());
}

TEST(Config, UnknownKeyNamesItsLineAndTheNearestKey) {
  auto cfg = Config::from_string("train:\n  epochs: 5\n  lr_rate: 0.1\n", "exp.yaml");
  auto train = cfg.root().child("train");
  train.get<int>("epochs", 1);
  train.get<double>("lr", 0.001);
  const auto msg = error_of([&] { cfg.check_all_used(); });
  EXPECT_NE(msg.find("exp.yaml:3"), std::string::npos) << msg;
  EXPECT_NE(msg.find("lr_rate"), std::string::npos) << msg;
  EXPECT_NE(msg.find("did you mean 'lr'"), std::string::npos) << msg;
}

TEST(Config, UnknownTopLevelSection) {
  auto cfg = Config::from_string("train: {epochs: 3}\ntrian: {epochs: 4}\n", "exp.yaml");
  cfg.root().child("train").get<int>("epochs", 1);
  const auto msg = error_of([&] { cfg.check_all_used(); });
  EXPECT_NE(msg.find("exp.yaml:2"), std::string::npos) << msg;
  EXPECT_NE(msg.find("did you mean 'train'"), std::string::npos) << msg;
}

TEST(Config, WrongTypeNamesLineKeyAndExpectation) {
  auto cfg = Config::from_string("train:\n  epochs: many\n", "exp.yaml");
  const auto msg = error_of([&] { cfg.root().child("train").get<int>("epochs", 1); });
  EXPECT_NE(msg.find("exp.yaml:2"), std::string::npos) << msg;
  EXPECT_NE(msg.find("train.epochs"), std::string::npos) << msg;
  EXPECT_NE(msg.find("an integer"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'many'"), std::string::npos) << msg;
}

TEST(Config, MissingRequiredKey) {
  auto cfg = Config::from_string("dataset:\n  type: casme2\n", "exp.yaml");
  const auto msg = error_of([&] { cfg.root().child("dataset").required<std::string>("root"); });
  EXPECT_NE(msg.find("dataset.root"), std::string::npos) << msg;
  EXPECT_NE(msg.find("exp.yaml:"), std::string::npos) << msg;
}

TEST(Config, BasesMergeDeeplyInOrderThenOverrides) {
  TempDir dir;
  write_file_atomic(dir / "_base_/a.yaml", "train: {epochs: 10, lr: 0.1}\nmodel: {type: x}\n");
  write_file_atomic(dir / "_base_/b.yaml", "train: {epochs: 20}\n");
  write_file_atomic(dir / "exp.yaml", "base: [_base_/a.yaml, _base_/b.yaml]\ntrain:\n  batch_size: 8\n");
  auto cfg = Config::load(dir / "exp.yaml", {"train.lr=0.5", "model.type=y"});
  auto train = cfg.root().child("train");
  EXPECT_EQ(train.get<int>("epochs", 0), 20);       // b overrides a
  EXPECT_DOUBLE_EQ(train.get<double>("lr", 0), 0.5);  // --set overrides all
  EXPECT_EQ(train.get<int>("batch_size", 0), 8);    // the file's own key
  EXPECT_EQ(cfg.root().child("model").get<std::string>("type", ""), "y");
  EXPECT_EQ(cfg.dump().find("base:"), std::string::npos);
  // Origins point at the file that set the value.
  EXPECT_NE(train.where("epochs").find("b.yaml:1"), std::string::npos) << train.where("epochs");
  EXPECT_NE(train.where("lr").find("--set"), std::string::npos);
}

TEST(Config, MissingBaseAndBadOverride) {
  TempDir dir;
  write_file_atomic(dir / "exp.yaml", "base: nope.yaml\n");
  EXPECT_NE(error_of([&] { Config::load(dir / "exp.yaml"); }).find("nope.yaml"), std::string::npos);
  write_file_atomic(dir / "ok.yaml", "a: 1\n");
  EXPECT_NE(error_of([&] { Config::load(dir / "ok.yaml", {"noequals"}); }).find("key.path=value"), std::string::npos);
}

// Found by tests/fuzz/yaml_config_fuzzer: a map inside the base list escaped as yaml-cpp's "bad conversion".
TEST(Config, BaseEntryThatIsNotAFileNameNamesTheLine) {
  TempDir dir;
  write_file_atomic(dir / "exp.yaml", "name: x\nbase:\n  - {a: b}\n");
  const auto msg = error_of([&] { Config::load(dir / "exp.yaml"); });
  EXPECT_NE(msg.find("exp.yaml:3"), std::string::npos) << msg;
  EXPECT_NE(msg.find("each entry of 'base' must be a file name"), std::string::npos) << msg;
}

// Found by tests/fuzz/yaml_config_fuzzer: a base naming a folder escaped as std::ios_failure.
TEST(Config, BaseOrConfigThatIsAFolder) {
  TempDir dir;
  write_file_atomic(dir / "exp.yaml", "base: .\n");
  auto msg = error_of([&] { Config::load(dir / "exp.yaml"); });
  EXPECT_NE(msg.find("exp.yaml:1: base '.' is a folder"), std::string::npos) << msg;
  msg = error_of([&] { Config::load(dir.path()); });
  EXPECT_NE(msg.find("is a folder"), std::string::npos) << msg;
  // A name longer than the file system allows escaped as std::filesystem_error (also found by fuzzing).
  write_file_atomic(dir / "long.yaml", "base: " + std::string(5000, 'a') + ".yaml\n");
  msg = error_of([&] { Config::load(dir / "long.yaml"); });
  EXPECT_NE(msg.find("long.yaml:1: base file"), std::string::npos) << msg.substr(0, 200);
  EXPECT_NE(msg.find("not found"), std::string::npos) << msg.substr(0, 200);
}

TEST(Config, InvalidYamlNamesLine) {
  const auto msg = error_of([] { Config::from_string("a: 1\nb: [1, 2\n", "bad.yaml"); });
  EXPECT_NE(msg.find("bad.yaml:"), std::string::npos) << msg;
}

TEST(Config, PathsExpandVariablesAndUnsetIsAnError) {
  ::setenv("MER_TEST_ROOT", "/data/x", 1);
  ::unsetenv("MER_TEST_UNSET");
  auto cfg = Config::from_string("d: {root: '${MER_TEST_ROOT}/CASME2', other: '${MER_TEST_UNSET}/a'}\n", "p.yaml");
  auto d = cfg.root().child("d");
  EXPECT_EQ(d.get_path("root", "").string(), "/data/x/CASME2");
  const auto msg = error_of([&] { d.get_path("other", ""); });
  EXPECT_NE(msg.find("MER_TEST_UNSET"), std::string::npos) << msg;
  EXPECT_NE(msg.find("p.yaml:1"), std::string::npos) << msg;
}

TEST(Config, ListsOfMapsAndStringMaps) {
  auto cfg = Config::from_string("p:\n  stages:\n    - {type: a}\n    - {type: b, size: 3}\n  map: {x: y}\n", "l.yaml");
  auto p = cfg.root().child("p");
  auto items = p.items("stages");
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[1].get<int>("size", 0), 3);
  EXPECT_EQ(items[1].path(), "p.stages[1]");
  EXPECT_NE(items[1].where().find("l.yaml:4"), std::string::npos) << items[1].where();
  items[0].required<std::string>("type");
  items[1].required<std::string>("type");
  EXPECT_EQ(p.get_string_map("map").at("x"), "y");
  EXPECT_NO_THROW(cfg.check_all_used());
}

TEST(Config, Suggestions) {
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
  EXPECT_EQ(nearest("epoch", {"epochs", "lr"}), "epochs");
  EXPECT_EQ(nearest("zzzzzz", {"epochs", "lr"}), "");
}

}  // namespace
}  // namespace mer

namespace mer {
namespace {

TEST(Config, ChoicesNameTheAllowedValuesAndTheNearest) {
  auto cfg = Config::from_string("p: {on_error: skp}\n", "c.yaml");
  const auto node = cfg.root().child("p");
  try {
    node.get_choice("on_error", "fail", {"fail", "skip"});
    FAIL();
  } catch (const ConfigError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("c.yaml:1"), std::string::npos) << msg;
    EXPECT_NE(msg.find("fail | skip"), std::string::npos) << msg;
    EXPECT_NE(msg.find("did you mean 'skip'"), std::string::npos) << msg;
  }
  EXPECT_EQ(node.get_choice("mode", "a", {"a", "b"}), "a");
}

}  // namespace
}  // namespace mer

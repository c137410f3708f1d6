#pragma once
// How register.cpp assembles the model registry from the presets and the families.
#include <mer/models/model.hpp>

#include <map>
#include <string>
#include <vector>

namespace mer::detail {

/// Published networks (presets.cpp).
void register_presets(ModelRegistry& registry, std::map<std::string, ModelInfo>& info);
/// single_stream, multi_stream, cascaded, multi_task (families.cpp).
void register_families(ModelRegistry& registry, std::map<std::string, ModelInfo>& info);
/// torchscript: a user's TorchScript file trained as a classifier (torchscript_magnify.cpp).
void register_torchscript_model(ModelRegistry& registry, std::map<std::string, ModelInfo>& info);
/// face_expression_net: face-api's FER network (face_expression_net.cpp).
void register_face_expression_net(ModelRegistry& registry, std::map<std::string, ModelInfo>& info);
/// "a, b, c".
std::string fmt_names(const std::vector<std::string>& names);

}  // namespace mer::detail

#pragma once
/// face-api's FaceExpressionNet as a libmer model, and the importer of its published weights.
///
/// The network (vladmandic/face-api src/faceExpressionNet, src/faceFeatureExtractor; trained by its
/// authors for facial-expression recognition on macro-expression faces, outside libmer) takes a 112×112
/// RGB face, subtracts the mean colour (122.782, 117.001, 104.298) and divides by 255, then runs four
/// dense blocks of 32, 64, 128 and 256 channels. Each block: conv0 with stride 2 (a plain 3×3 conv in
/// dense0, a depthwise-separable one after), then three separable 3×3 convs whose inputs are the ReLU of
/// the running sum of all previous outputs of the block (DenseNet-style additive connections); TensorFlow
/// 'same' padding throughout (stride 2 on an even size pads only bottom/right). A 7×7 average pool (the
/// whole 7×7 map at 112×112) gives 256 features, and a linear layer the 7 expression logits (neutral,
/// happy, sad, angry, fearful, disgusted, surprised). 323,687 parameters with the 7-way head.
///
/// In libmer the feature extractor is `backbone` (backbone.dense0.conv0.weight, backbone.dense1.conv2.
/// depthwise.weight, ...pointwise.weight/.bias) and the linear layer is `head`, sized to the run's classes,
/// so a converted checkpoint fine-tunes by
///   model:
///     type: face_expression_net
///     inputs: [apex]       # one 3-channel group (default: every pipeline output, which must stack to 3)
///     channels: bgr        # order of the input's channels: bgr (libmer's colour frames) | rgb
///     pixel_max: 255       # the input's white: 255 after to_float scale: none, 1 after scale: unit
///     dropout: 0           # before the head (face-api has none)
///     init: {checkpoint: ${MER_MODELS}/faceapi_expression.pt, skip: ["head.*"]}
/// Other input sizes run too (the 7×7 pool becomes a global average, which it is at 112×112).
#include <mer/models/model.hpp>

#include <cstdint>
#include <filesystem>
#include <string>

namespace mer {

/// What import_faceapi_expression() converted.
struct FaceApiImport {
  std::filesystem::path manifest;  ///< the weights manifest read
  std::int64_t tensors = 0;        ///< tfjs tensors mapped (49: 11 in dense0, 12 in each other block, 2 in fc)
  std::int64_t parameters = 0;     ///< values written (323,687)
  std::int64_t quantised = 0;      ///< tensors stored quantised (uint8/uint16 with scale and min, or float16)
};

/// Converts face-api's face_expression_model (a tfjs weights manifest and its .bin shards) into a libmer
/// checkpoint at `out` for model.init. `weights` is the manifest file or the folder holding
/// face_expression_model-weights_manifest.json. Quantised tensors are restored as tfjs does
/// (q × scale + min for uint8/uint16; float16 widened). tfjs layouts map to LibTorch's: conv filters
/// [h, w, in, out] → [out, in, h, w], depthwise [h, w, in, 1] → [in, 1, h, w], dense [in, out] → [out, in].
///
/// The checkpoint holds the network with its 7-way head (`head.*`) as `model: {type: face_expression_net}`
/// on one 3×112×112 RGB group `input` (mer.spec, mer.config), and records that it saw no MER subject
/// (mer.seen_subjects = [], plus mer.source naming the origin), so model.init accepts it for every fold.
/// Throws IoError for unreadable files, DataError for a manifest that is not this network (missing or
/// misshapen tensors, a .bin shorter than the manifest says, an unknown dtype).
FaceApiImport import_faceapi_expression(const std::filesystem::path& weights, const std::filesystem::path& out);

}  // namespace mer

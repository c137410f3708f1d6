// Embedded in generated HTML reports for tests/support/html_check.sh: after window load (when every
// image has loaded or failed) record on the body element how many <img> there are and how many
// did not load (an image whose data is undecodable, missing or empty has naturalWidth 0).
window.addEventListener("load", function () {
  var imgs = document.images, broken = 0;
  for (var i = 0; i < imgs.length; i++) {
    if (!(imgs[i].complete && imgs[i].naturalWidth > 0)) broken++;
  }
  document.body.setAttribute("data-images-total", imgs.length);
  document.body.setAttribute("data-images-broken", broken);
});

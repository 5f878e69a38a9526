#include "experiments/image_grid.h"

#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC
#include <stb_image_write.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "experiments/io.h"

namespace difflab::experiments {

std::string png_grid(const tensor::Tensor& images, int64_t nrow, int64_t pad) {
  DIFFLAB_CHECK(images.dim() == 4 && (images.size(1) == 1 || images.size(1) == 3),
                "png_grid: expected images [N, 1 or 3, H, W], got ", images.shape());
  DIFFLAB_CHECK(images.size(0) > 0, "png_grid: no images");
  const int64_t n = images.size(0), c = images.size(1), h = images.size(2), w = images.size(3);
  nrow = std::max<int64_t>(1, std::min(nrow, n));
  const int64_t rows = (n + nrow - 1) / nrow;
  const int64_t W = nrow * (w + pad) + pad, H = rows * (h + pad) + pad;
  std::vector<unsigned char> pix(size_t(W * H * 3), 40);  // dark grey border
  std::vector<double> v = images.to(tensor::DType::f64).to_vector<double>();
  for (int64_t i = 0; i < n; ++i) {
    const int64_t gy = (i / nrow) * (h + pad) + pad, gx = (i % nrow) * (w + pad) + pad;
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x)
        for (int64_t k = 0; k < 3; ++k) {
          double val = v[size_t(((i * c + (c == 1 ? 0 : k)) * h + y) * w + x)];
          if (!std::isfinite(val)) val = 0;  // NaN shows as mid grey rather than garbage
          val = std::clamp((val + 1.0) * 0.5, 0.0, 1.0);
          pix[size_t(((gy + y) * W + gx + x) * 3 + k)] = (unsigned char)std::lround(val * 255.0);
        }
  }
  std::string out;
  stbi_write_png_to_func(
      [](void* ctx, void* data, int size) {
        static_cast<std::string*>(ctx)->append(static_cast<const char*>(data), size_t(size));
      },
      &out, int(W), int(H), 3, pix.data(), int(W * 3));
  DIFFLAB_CHECK(!out.empty(), "png_grid: PNG encoding failed");
  return out;
}

std::string write_png_grid(const std::string& path, const tensor::Tensor& images, int64_t nrow,
                           int64_t pad) {
  std::string png = png_grid(images, nrow, pad);
  write_file_atomic(path, png);
  return png;
}

}  // namespace difflab::experiments

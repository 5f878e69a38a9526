// PNG sample grids (stb_image_write): images [N, C, H, W] with C = 1 or 3 and values in [-1, 1]
// tiled into rows of `nrow`, with a 2-pixel border.
#pragma once
#include <string>

#include "tensor/tensor.h"

namespace difflab::experiments {

// Encoded PNG bytes of the grid.
std::string png_grid(const tensor::Tensor& images, int64_t nrow = 8, int64_t pad = 2);
// Writes the grid atomically; returns the PNG bytes (for embedding in a report).
std::string write_png_grid(const std::string& path, const tensor::Tensor& images,
                           int64_t nrow = 8, int64_t pad = 2);

}  // namespace difflab::experiments

// runtime: putting an observed spectrum onto a model's log10-wavelength grid (docs/data.md).
//
// Resampling is flux-conserving: each input pixel is a bin (edges half-way between pixel
// centres) of constant flux density, and each output pixel is the mean flux density over
// its own bin, weighted by the overlap in log10 lambda. It keeps line fluxes and
// equivalent widths whether the model grid is finer or coarser than the observation and
// does not alias narrow features when it is coarser; on grids of equal step it reduces to
// linear interpolation. Input pixels with a non-finite flux, or ivar <= 0 when an ivar is
// given (SDSS marks bad pixels so), carry no weight; overlaps under 1e-9 of a pixel (edges
// that coincide up to rounding) are ignored. Output pixels that no usable input covers
// are 0 and counted.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace starc {

struct LogLamGrid {
  double start = 3.5522, stop = 4.0139;  // log10 Angstrom, pixel centres (SDSS-like, 360-1032.5 nm)
  int64_t n = 4618;
  double at(int64_t i) const { return n == 1 ? start : start + (stop - start) * double(i) / double(n - 1); }
};
// "START,STOP,N" or "sdss" (the default grid); throws naming `text` otherwise, also for
// an N too large for this machine's memory.
LogLamGrid parse_loglam_grid(const std::string& text);

struct ResampledSpectrum {
  std::vector<double> flux;      // grid.n values
  std::vector<uint8_t> covered;  // 1 where usable input overlapped the pixel
  int64_t outside = 0;           // pixels beyond the observed wavelength range (0)
  int64_t masked = 0;            // pixels inside it with no usable input (0)
};

// `loglam` strictly increasing, same length as `flux` (and `ivar` unless empty).
ResampledSpectrum resample_spectrum(const std::vector<double>& loglam, const std::vector<double>& flux,
                                    const std::vector<double>& ivar, const LogLamGrid& grid);

enum class SpectrumNorm {
  None,
  ZeroMean,     // subtract the mean of the covered pixels (Rastegarnia et al. 2022)
  Standardize,  // and divide by their standard deviation (examples/make_spectra.cpp)
};
// "none" | "zero-mean" | "standardize"; throws otherwise.
SpectrumNorm parse_spectrum_norm(const std::string& text);
// Normalises the covered pixels of `s`; uncovered ones stay 0 (the mean after
// normalising). Returns false when Standardize meets a constant spectrum (left centred).
bool normalize_spectrum(ResampledSpectrum& s, SpectrumNorm norm);

}  // namespace starc

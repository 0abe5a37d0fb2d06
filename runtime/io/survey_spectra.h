// runtime: spectra in the files surveys publish (docs/data.md, "Survey spectra"): SDSS /
// BOSS / eBOSS spec-PLATE-MJD-FIBER.fits (HDU COADD: loglam, flux, ivar, and_mask; labels
// from SPALL or SPECOBJ) and DESI coadd-*.fits (B/R/Z _WAVELENGTH, _FLUX, _IVAR, _MASK
// images, FIBERMAP; labels from a REDSHIFTS HDU or the redrock-*.fits beside it).
//
// Bad pixels — a non-zero and_mask / MASK, ivar <= 0, a non-finite flux — come back with
// ivar 0, so the resampler (spectrum_resample.h) gives them no weight. DESI's arms are
// merged on their common 0.8 A lattice: where two arms hold the same wavelength the flux
// is their ivar-weighted mean and the ivar the sum. Every failure throws
// std::runtime_error naming the file and the HDU or column.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace starc {

enum class SpectrumFileKind { Sdss, Desi, Other };
// By the HDUs of `file` (a plain path): COADD with SPALL, SPECOBJ or a PLATEID key in the
// primary header -> Sdss; B_FLUX / R_FLUX / Z_FLUX -> Desi; anything else (a redrock
// file, an image, a bare spectrum table) -> Other.
SpectrumFileKind spectrum_file_kind(const std::string& file);

struct SurveySpectrum {
  std::string file;
  int64_t row = -1;            // DESI: the row in the coadd (-1 for SDSS)
  std::string id;              // "PLATE-MJD-FIBER" or the TARGETID
  std::vector<double> loglam;  // log10 Angstrom (vacuum), strictly increasing
  std::vector<double> flux, ivar;
  int64_t bad_pixels = 0;      // pixels the file marks bad (counted before merging arms)
  std::optional<double> z;     // the labels, when the file or its redrock file has them
  std::string spectype;        // CLASS / SPECTYPE: "QSO", "GALAXY", "STAR"
  std::string labels_from;     // "spec.fits[SPALL]", "redrock-....fits[REDSHIFTS]"
  std::string source() const;  // "spec-4000-55500-0001.fits" / "coadd-...fits row 3 (TARGETID ...)"
};

// The spectra of one SDSS (one spectrum) or DESI (one per FIBERMAP row) file.
std::vector<SurveySpectrum> read_survey_spectra(const std::string& file);

}  // namespace starc

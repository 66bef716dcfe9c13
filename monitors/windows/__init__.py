"""The windowed store of samples: per-series windows, histograms, and the journal that
lets them survive a restart."""

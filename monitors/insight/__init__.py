"""Insight into the incidents Tocsin raised: statistics (MTTA, MTTR, noise), coaching of
noisy rules with proposals checked by backtest, the weekly noise report, and rule
changes proposed before they are saved."""

"""Evaluation of produced signs against real held-out recordings (``syrisign evaluate``).

- :mod:`syrisign.evaluation.metrics`: the metrics of ``docs/METRICS.md`` (DTW-MJE, back-translation
  top-k and WER, FID, diversity, R-precision, join jerk, duration ratio) and bootstrap intervals;
  numpy/scipy only.
- :mod:`syrisign.evaluation.recognizer`: the back-translation recognizer used as the judge
  (``syrisign train recognizer``); torch is imported only inside its functions.
- :mod:`syrisign.evaluation.run`: the whole comparison of the methods on one dataset.
- :mod:`syrisign.evaluation.report`: JSON, markdown, plots and the video grid.
"""

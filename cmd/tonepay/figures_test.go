package main

import fig "github.com/tonepay/tonepay/internal/figures"

// figures reports what a fault or attack test tried and how much of it came
// out right, in the line CI collects (internal/figures).
var figures = fig.Report

// Package metrics exposes the rotator's measurements to Prometheus: the live
// token's expiry, rotation results, the last success, whether a rotation is
// running and how long each step took. The daemon serves them on /metrics;
// one-shot runs (a CronJob) push them to a Pushgateway.
package metrics

"""The reliability suite (`make reliability`): faults, cancellation, bad input, limits, data
loss, a soak and a secrets check against the real stack, written up in docs/reliability.md."""

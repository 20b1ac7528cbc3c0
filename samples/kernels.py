"""Small numeric kernels, traced for benchmarks and tests."""


def horner(coefficients, x):
    """Evaluates a polynomial (highest power first) at x."""
    result = 0.0
    for c in coefficients:
        result = result * x + c
    return result


def euler_decay(y0, rate, dt, steps):
    """Integrates dy/dt = -rate * y with explicit Euler steps."""
    y = y0
    for _ in range(steps):
        y = y - dt * rate * y
    return y


def oscillator(state, dt, steps):
    """Integrates x'' = -x in place on state = [x, v] (mutates a list)."""
    for _ in range(steps):
        state[1] -= dt * state[0]
        state[0] += dt * state[1]
    return state


def main():
    return [horner([1.0, -2.0, 3.0], 2.0), euler_decay(1.0, 0.5, 0.01, 100), oscillator([1.0, 0.0], 0.1, 10)]

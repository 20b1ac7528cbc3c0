"""A traced loop for the diff benchmark, in two versions chosen by
`edited` (an untraced flag): the edited one adds an `abs` in every tenth
step and uses another constant in every twentieth, so that about 1% of
the operations differ."""


def run(x, y, steps, edited):
    for i in range(int(steps)):
        if edited and i % 10 == 0:
            x = abs(x)
        x = x * 1.0001 + (0.5001 if edited and i % 20 == 5 else 0.5)
        y = (y + x) * 0.999
    return x + y

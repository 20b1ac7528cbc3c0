"""Programs for the capture-fidelity tests: traced as whole modules with
`allow_mutation=True`, each must compute bit-identical results."""

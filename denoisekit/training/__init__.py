"""Training: one trainer loop (:mod:`.trainer`) fed by patch samplers (:mod:`.data`) and an
objective plug-in that turns a batch into a loss (:mod:`.objectives`)."""

#: Training methods: "supervised" learns from clean images; the others from noisy ones only.
METHODS = ("supervised", "n2n", "n2v", "blindspot", "ne2ne")

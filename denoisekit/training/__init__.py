"""Training: one trainer loop (:mod:`.trainer`) fed by patch samplers (:mod:`.data`) and an
objective plug-in that turns a batch into a loss (:mod:`.objectives`)."""

"""The method's relatives: the papers' configurations and what only they use.

:mod:`~skdynaguide.family.presets` (DynaGuide, DynaSeg and DFC as published),
:mod:`~skdynaguide.family.resnet_fpn` (DynaSeg's pretrained network),
:mod:`~skdynaguide.family.regions` and :mod:`~skdynaguide.family.embedding` (DCN's region
classification across a dataset). DFC's scribbles and DynaSeg's silhouette phase are
training inputs (:mod:`skdynaguide.training`).
"""

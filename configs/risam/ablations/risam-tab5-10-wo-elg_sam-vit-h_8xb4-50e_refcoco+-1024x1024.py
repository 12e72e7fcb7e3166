# Paper Tab. 5, row #10 "w/o ELG": no extra linguistic guidance; the decoder
# sees only F_lav (F_val is not fed to it), and its query token is generated
# from F_lav as VLT's queries are ("the same as [3]", §4.5.2; see
# VisualQueryGeneration), not a learned constant.
# Paper RefCOCO+ val IoU: 63.45 (RISAM: 66.37).
# The model is the RefCOCO row's (risam-tab5-10-wo-elg_sam-vit-h_8xb4-50e_refcoco-1024x1024);
# data, 25-word limit and test splits (val testA testB) from the RefCOCO+ paper config.
_base_ = ['../risam_sam-vit-h_8xb4-50e_refcoco+-1024x1024.py']
model = dict(decode_head=dict(extra_linguistic_guidance=False))
# The last MA block's language-branch LayerNorm then has no use: DDP must be
# told about unused parameters.
model_wrapper_cfg = dict(
    type='MMDistributedDataParallel', find_unused_parameters=True)

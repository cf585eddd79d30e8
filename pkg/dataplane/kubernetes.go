package dataplane

// KubernetesTokenAudience is the audience of the projected
// service-account token an agent on Kubernetes attests with. embassy-cp
// accepts a token for no other audience, so a token minted for another
// service cannot be replayed to it, and one minted for it is of no use
// elsewhere.
const KubernetesTokenAudience = "embassy-cp"

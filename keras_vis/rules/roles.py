"""What a user can say a layer computes, so that each relevance method gives it a fitting rule
(`keras_vis.rules.by_name`); the words `--help` and error messages use."""

from keras_vis.registry import RULE_ROLES as ROLES


def suggestion(layer_name):
    """How to give layer `layer_name` a rule, in Python and on the command line."""
    return (f"Say what it computes: `rules={{{layer_name!r}: 'elementwise'}}` in Python "
            f"(`--rule {layer_name}=elementwise` on the command line), where 'elementwise' "
            f"{ROLES['elementwise']}, 'linear' {ROLES['linear']}, 'routing' {ROLES['routing']} "
            f"and 'gate' {ROLES['gate']}; or use a gradient method.")
